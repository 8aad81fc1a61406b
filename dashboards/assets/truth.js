/* The truth banner of every page: a wall must say so when it cannot show live data.

   - Asks /api/freshness every few seconds: per feed the time of its last good data (a banner
     line for each stale feed) and whether the data store answered.
   - Watches the page's own Dash callbacks: a failed request (network down, server gone, a proxy's
     502/503/504) means the server is unreachable.
   - While the server or the store is unreachable the banner says since when and from when the
     figures are, and the page is greyed out (``body.ioc-offline``): old numbers never pass as
     live. A page whose own feed is stale is marked ``body.ioc-feed-stale``.
   - Reconnects by itself: the polls go on, and the first answer clears the banner. A page that is
     not a Dash app (its figures came with the HTML) reloads then to get fresh ones, unless it
     refreshes itself (``<body data-ioc-live="self">``, the screen).
   - Inside a screen's frame (``/screen/<name>``) the frame greys out but leaves the banner to the
     screen around it. */

(function () {
    'use strict';
    if (window.__iocTruth) { return; }
    const framed = window.top !== window;
    const state = {
        serverDownSince: null, storeDownSince: null, lastLive: Date.now(), feeds: [],
        pollMs: 5000, tz: 'UTC', locale: 'en-GB', timer: null,
        texts: {
            server_down: 'SERVER UNREACHABLE since {since}: reconnecting. Figures shown are from {last} and are not live.',
            store_down: 'DATA STORE UNREACHABLE since {since}: figures are from {last} and are not live.',
            feed_stale: '{feed}: no new data since {time}',
            feed_never: '{feed}: no data yet',
            unknown: 'unknown',
        },
    };
    window.__iocTruth = state;

    function fmt(ms) {
        if (ms === null || ms === undefined || isNaN(ms)) { return state.texts.unknown; }
        const d = new Date(ms);
        const sameDay = Math.abs(Date.now() - ms) < 20 * 3600 * 1000;
        const opts = {timeZone: state.tz, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'};
        if (!sameDay) { opts.day = '2-digit'; opts.month = 'short'; }
        try { return new Intl.DateTimeFormat(state.locale, opts).format(d); } catch (e) { return d.toISOString(); }
    }

    function fill(text, values) {
        return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
    }

    function banner() {
        let el = document.getElementById('ioc-truth');
        if (!el && document.body) {
            el = document.createElement('div');
            el.id = 'ioc-truth';
            el.setAttribute('role', 'alert');
            el.setAttribute('aria-live', 'assertive');
            document.body.insertBefore(el, document.body.firstChild);
        }
        return el;
    }

    function render() {
        const el = banner();
        if (!el) { return; }
        const lines = [];
        if (state.serverDownSince !== null) {
            lines.push(['server', fill(state.texts.server_down, {since: fmt(state.serverDownSince), last: fmt(state.lastLive)})]);
        } else if (state.storeDownSince !== null) {
            lines.push(['store', fill(state.texts.store_down, {since: fmt(state.storeDownSince), last: fmt(state.lastLive)})]);
        }
        let ownStale = false;
        const here = window.location.pathname;
        state.feeds.forEach(function (f) {
            if (!f.stale) { return; }
            if (f.page && f.page === here) { ownStale = true; }
            const text = f.last ? fill(state.texts.feed_stale, {feed: f.title, time: fmt(Date.parse(f.last))})
                : fill(state.texts.feed_never, {feed: f.title});
            lines.push(['feed', text, f.feed]);
        });
        const offline = state.serverDownSince !== null || state.storeDownSince !== null;
        document.body.classList.toggle('ioc-offline', offline);
        document.body.classList.toggle('ioc-feed-stale', ownStale);
        document.body.classList.toggle('ioc-framed', framed);
        el.replaceChildren.apply(el, lines.map(function (line) {
            const p = document.createElement('div');
            p.className = 'ioc-truth-line ioc-truth-' + line[0];
            if (line[2]) { p.dataset.feed = line[2]; }
            p.textContent = line[1];
            return p;
        }));
        el.dataset.state = state.serverDownSince !== null ? 'server-down'
            : state.storeDownSince !== null ? 'store-down' : lines.length ? 'feeds-stale' : 'ok';
        el.hidden = lines.length === 0;
    }

    function serverDown() {
        if (state.serverDownSince === null) { state.serverDownSince = Date.now(); render(); }
    }

    function serverBack() {
        if (state.serverDownSince === null) { return; }
        state.serverDownSince = null;
        if (!document.getElementById('react-entry-point') && document.body.dataset.iocLive !== 'self') {
            window.location.reload();  // a page without callbacks: its figures came with the HTML
            return;
        }
        render();
    }

    // The page's Dash callbacks: a request that fails on the way is the first sign of an outage.
    const realFetch = window.fetch.bind(window);
    window.fetch = function (input, init) {
        const url = typeof input === 'string' ? input : (input && input.url) || '';
        const watched = url.indexOf('_dash-update-component') >= 0;
        const answer = realFetch(input, init);
        if (!watched) { return answer; }
        return answer.then(function (r) {
            if (r.status === 502 || r.status === 503 || r.status === 504) { serverDown(); }
            return r;
        }, function (err) { serverDown(); throw err; });
    };

    function poll() {
        const ctrl = typeof AbortController === 'function' ? new AbortController() : null;
        const guard = ctrl ? setTimeout(function () { ctrl.abort(); }, Math.max(10000, state.pollMs * 2)) : null;
        realFetch('/api/freshness', {cache: 'no-store', credentials: 'same-origin', signal: ctrl && ctrl.signal})
            .then(function (r) {
                if (r.status === 502 || r.status === 503 || r.status === 504) { throw new Error('HTTP ' + r.status); }
                if (!r.ok) { return null; }  // e.g. 401 after a logout: the page itself will say so
                return r.json();
            })
            .then(function (doc) {
                serverBack();
                if (!doc) { return; }
                state.tz = doc.tz || state.tz;
                state.locale = doc.locale || state.locale;
                state.texts = Object.assign({}, state.texts, doc.texts || {});
                if (doc.store_ok) {
                    state.storeDownSince = null;
                    state.lastLive = Date.now();
                    state.feeds = doc.feeds || [];
                } else if (state.storeDownSince === null) {
                    state.storeDownSince = Date.now();
                }
                if (doc.poll_ms && doc.poll_ms !== state.pollMs) { state.pollMs = doc.poll_ms; schedule(); }
                render();
            })
            .catch(function () { serverDown(); })
            .finally(function () { if (guard) { clearTimeout(guard); } });
    }

    function schedule() {
        if (state.timer) { clearInterval(state.timer); }
        state.timer = setInterval(poll, state.pollMs);
    }

    function start() { render(); poll(); schedule(); }
    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
}());
