/* The one clock of every page: the time (and date) in the city's zone, and "no update" when the
   page has heard nothing from the server for a while. Each page's config store says what it shows:

     {tz, staleMs, locale, parts: ['time', 'date', 'status', 'class'], linkClass, staleClass, staleText}

   ``parts`` are the callback's outputs in order; ``seq`` changes whenever fresh data arrived. */

window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.ioc = Object.assign({}, window.dash_clientside.ioc, {
    clock: function (n, cfg, seq) {
        cfg = cfg || {};
        const now = new Date();
        const tz = cfg.tz || 'UTC';
        const locale = cfg.locale || 'en-GB';
        const parts = cfg.parts || ['time'];
        const key = cfg.key || 'page';
        const w = window;
        w.__iocSeen = w.__iocSeen || {};
        w.__iocSeq = w.__iocSeq || {};
        if (w.__iocSeen[key] === undefined || seq !== w.__iocSeq[key]) {
            w.__iocSeq[key] = seq;
            w.__iocSeen[key] = now.getTime();
        }
        let time, date;
        try {
            time = new Intl.DateTimeFormat('en-GB', {timeZone: tz, hour: '2-digit', minute: '2-digit',
                second: '2-digit', hourCycle: 'h23'}).format(now);
            date = new Intl.DateTimeFormat(locale, {timeZone: tz, weekday: 'short', day: '2-digit',
                month: 'short', timeZoneName: 'shortOffset'}).format(now).replace(/,/g, '');
        } catch (e) {
            time = now.toISOString().slice(11, 19); date = 'UTC';
        }
        const quiet = now.getTime() - w.__iocSeen[key];
        const stale = quiet > (cfg.staleMs || 10000);
        const text = cfg.staleText || 'NO UPDATE FOR {s} s';
        const values = {
            time: time,
            date: date,
            status: stale ? text.replace('{s}', String(Math.round(quiet / 1000))) : '',
            class: (cfg.linkClass || '') + (stale ? ' ' + (cfg.staleClass || 'stale') : ''),
        };
        const out = parts.map(function (p) { return values[p]; });
        return out.length === 1 ? out[0] : out;
    },
});
