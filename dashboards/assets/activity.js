/* A person at the page (dashboards/activity.py): the requests this page's scripts send within a
   few seconds of a key, click, touch, wheel or mouse move carry the X-IOC-Activity header, and the
   server counts only those (and page loads and forms) as the session's use. A page's own timers,
   without it, never keep an unattended session from idling out. Same-origin requests only. */

(function () {
    'use strict';
    if (window.__iocActivity) { return; }
    window.__iocActivity = true;
    const RECENT_MS = 5000;
    let last = -Infinity;
    function seen() { last = Date.now(); }
    ['keydown', 'mousemove', 'pointerdown', 'wheel', 'touchstart'].forEach(function (type) {
        window.addEventListener(type, seen, {passive: true, capture: true});
    });

    const realFetch = window.fetch.bind(window);
    window.fetch = function (input, init) {
        if (Date.now() - last > RECENT_MS) { return realFetch(input, init); }
        const given = typeof input === 'string' || input instanceof URL ? String(input) : (input && input.url) || '';
        let url;
        try { url = new URL(given, window.location.href); } catch (e) { return realFetch(input, init); }
        if (url.origin !== window.location.origin) { return realFetch(input, init); }
        const opts = Object.assign({}, init || {});
        const headers = new Headers(opts.headers || (input instanceof Request ? input.headers : undefined));
        headers.set('X-IOC-Activity', 'input');
        opts.headers = headers;
        return realFetch(input, opts);
    };
}());
