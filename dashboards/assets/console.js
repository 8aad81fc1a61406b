/* The duty console's browser callbacks (see dashboards/console/callbacks.py). */

window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.console = {
    keys: function (cfg) {
        if (window.__iocConsoleKeys) { return window.dash_clientside.no_update; }
        window.__iocConsoleKeys = true;
        const click = function (id) {
            const b = document.getElementById(id);
            if (b && !b.disabled) { b.click(); }
        };
        // The officer's choice of row goes to Dash at once. dash-ag-grid passes a selection on a
        // millisecond later, and a refresh's rows arriving meanwhile put back the selection Dash
        // had (none): the row was unselected and its detail never shown. Selections the grid makes
        // itself ('api': putting back Dash's own) are not passed on again.
        const share = function (api) {
            window.dash_clientside.set_props('alert-grid', {selectedRows: api.getSelectedRows()});
        };
        dash_ag_grid.getApiAsync('alert-grid').then(function (api) {
            api.addEventListener('selectionChanged', function (e) {
                if (!String(e.source || '').startsWith('api')) { share(api); }
            });
        });
        const move = async function (delta) {
            const api = await dash_ag_grid.getApiAsync('alert-grid');
            const n = api.getDisplayedRowCount();
            if (!n) { return; }
            const sel = api.getSelectedNodes();
            let i = sel.length && sel[0].rowIndex !== null ? sel[0].rowIndex + delta : (delta > 0 ? 0 : n - 1);
            i = Math.max(0, Math.min(n - 1, i));
            const node = api.getDisplayedRowAtIndex(i);
            if (node) {
                node.setSelected(true, true);
                share(api);
                api.ensureIndexVisible(i);
                api.setFocusedCell(i, 'title');
            }
        };
        const keys = {a: 'btn-ack', g: 'btn-assign', r: 'btn-resolve', s: 'btn-silence', u: 'btn-unsilence',
                      o: 'btn-reopen', c: 'btn-comment', i: 'btn-ack-incident'};
        document.addEventListener('keydown', function (e) {
            const t = e.target;
            const typing = t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' || t.tagName === 'SELECT'
                                 || t.isContentEditable);
            if (typing) {
                if (e.key === 'Escape') { t.blur(); }
                return;
            }
            if (e.ctrlKey || e.metaKey || e.altKey) { return; }
            if (e.key === 'j') { move(1); e.preventDefault(); }
            else if (e.key === 'k') { move(-1); e.preventDefault(); }
            else if (e.key === 'n') {
                const n = document.getElementById('note');
                if (n) { n.focus(); }
                e.preventDefault();
            }
            else if (e.key === '/') {
                const f = document.querySelector('#f-feed input, #f-feed button, #f-feed');
                if (f) { f.focus(); }
                e.preventDefault();
            }
            else if (keys[e.key]) { click(keys[e.key]); e.preventDefault(); }
        });
        // a session that ran out sends the officer to the login, instead of leaving a dead page
        setInterval(function () {
            fetch('/whoami', {credentials: 'same-origin'}).then(function (r) {
                if (r.status === 401) { window.location.href = '/login?next=' + encodeURIComponent('/console/'); }
            }).catch(function () {});
        }, 30000);
        return window.dash_clientside.no_update;
    },

    // critical notices flash the screen and chime (Web Audio; no file to fetch)
    alarm: function (notices) {
        if (!notices || !notices.fresh || !notices.fresh.length) { return window.dash_clientside.no_update; }
        const critical = notices.fresh.some(function (n) { return n.critical; });
        window.__iocNotices = (window.__iocNotices || 0) + notices.fresh.length;
        if (critical) {
            window.__iocChimes = (window.__iocChimes || 0) + 1;
            const root = document.getElementById('console');
            if (root) {
                root.classList.remove('flash');
                void root.offsetWidth;
                root.classList.add('flash');
                setTimeout(function () { root.classList.remove('flash'); }, 6000);
            }
            try {
                const Ctx = window.AudioContext || window.webkitAudioContext;
                const ctx = window.__iocAudio || (window.__iocAudio = new Ctx());
                [0, 0.35].forEach(function (at) {
                    const o = ctx.createOscillator();
                    const g = ctx.createGain();
                    o.type = 'sine';
                    o.frequency.value = at ? 660 : 880;
                    g.gain.setValueAtTime(0.0001, ctx.currentTime + at);
                    g.gain.exponentialRampToValueAtTime(0.25, ctx.currentTime + at + 0.03);
                    g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.3);
                    o.connect(g).connect(ctx.destination);
                    o.start(ctx.currentTime + at);
                    o.stop(ctx.currentTime + at + 0.32);
                });
            } catch (e) { /* no audio device: the flash still shows */ }
        }
        return window.dash_clientside.no_update;
    }
};
