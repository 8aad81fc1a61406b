/* The camera wall's browser callbacks (see dashboards/cameras/callbacks.py). */

window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.cameras = {
    // Keys: Enter or Space on a focused tile opens it; 1-9 open the tile of that number; arrows move
    // between tiles; Esc closes the large view. Installed once per page.
    keys: function (cfg) {
        if (window.__camKeys) { return window.dash_clientside.no_update; }
        window.__camKeys = true;
        document.addEventListener('keydown', function (e) {
            if (e.ctrlKey || e.altKey || e.metaKey) { return; }
            const detail = document.getElementById('cam-detail');
            const open = detail && detail.classList.contains('cam-open');
            if (e.key === 'Escape') {
                if (open) { document.getElementById('cam-detail-close').click(); e.preventDefault(); }
                return;
            }
            if (open) { return; }
            const tiles = Array.from(document.querySelectorAll('.cam-tile'));
            const t = e.target;
            const at = tiles.indexOf(t);
            if ((e.key === 'Enter' || e.key === ' ') && at >= 0) { t.click(); e.preventDefault(); return; }
            if (/^[1-9]$/.test(e.key)) {
                const el = tiles[Number(e.key) - 1];
                if (el) { el.focus(); el.click(); e.preventDefault(); }
                return;
            }
            const grid = document.getElementById('cam-grid');
            const cols = grid ? getComputedStyle(grid).gridTemplateColumns.split(' ').length : 1;
            const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols}[e.key];
            if (step !== undefined && tiles.length) {
                const next = tiles[Math.min(tiles.length - 1, Math.max(0, (at < 0 ? 0 : at + step)))];
                next.focus();
                e.preventDefault();
            }
        });
        return window.dash_clientside.no_update;
    },

    // Focus follows the large view: into it when it opens, back to the camera's tile when it closes.
    focus: function (selected) {
        const w = window;
        setTimeout(function () {
            if (selected) {
                w.__camLast = selected;
                const b = document.getElementById('cam-detail-close');
                if (b) { b.focus(); }
            } else if (w.__camLast) {
                const tile = document.querySelector('.cam-tile[data-camera="' + CSS.escape(w.__camLast) + '"]');
                if (tile) { tile.focus(); }
            }
        }, 50);
        return window.dash_clientside.no_update;
    }
};
