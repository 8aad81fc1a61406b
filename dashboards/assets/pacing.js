/* Refresh ticks that wait for the server (dashboards/pacing.py).

   Dash drops the answer of a callback still on its way when the same callback is asked again. A
   page refreshed every 2 s over a link or from a server that answers in 3 s would drop every answer
   and never fill in (the console's detail pane stayed empty after a click). So a page's refresh
   tick is moved on by a timer beside it only when none of the requests its last move started is
   still out: a slow server or link gets a slower page, never a frozen one.

   The page's Dash requests are counted here by the inputs that started them (``changedPropIds``);
   one unanswered for REQUEST_LOST_MS is taken for lost, so a request the network swallowed does not
   stop the page for good. */

(function () {
    'use strict';
    if (window.__iocPacing) { return; }
    const REQUEST_LOST_MS = 120000;  // waitress closes a connection idle this long (channel_timeout)
    const out = new Map();  // request serial -> {props: [...], since: ms}
    let serial = 0;
    window.__iocPacing = {out: out, held: 0};

    function startedBy(init) {
        if (!init || typeof init.body !== 'string') { return []; }
        try {
            const ids = JSON.parse(init.body).changedPropIds;
            return Array.isArray(ids) ? ids : [];
        } catch (e) { return []; }
    }

    const realFetch = window.fetch.bind(window);
    window.fetch = function (input, init) {
        const url = typeof input === 'string' ? input : (input && input.url) || '';
        if (url.indexOf('_dash-update-component') < 0) { return realFetch(input, init); }
        const props = startedBy(init);
        if (!props.length) { return realFetch(input, init); }
        const key = ++serial;
        out.set(key, {props: props, since: Date.now()});
        const done = function () { out.delete(key); };
        const answer = realFetch(input, init);
        answer.then(done, done);
        return answer;
    };

    function waiting(prop) {
        const now = Date.now();
        for (const [key, req] of out) {
            if (now - req.since > REQUEST_LOST_MS) { out.delete(key); continue; }
            if (req.props.indexOf(prop) >= 0) { return true; }
        }
        return false;
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside);
    window.dash_clientside.ioc_pacing = {
        // the timer ticked: move the page's tick on to the timer's count, unless its last move's
        // requests are still out (then the next timer tick asks again)
        pulse: function (n, tickId) {
            if (waiting(tickId + '.n_intervals')) {
                window.__iocPacing.held += 1;
                return window.dash_clientside.no_update;
            }
            return n;
        },
    };
}());
