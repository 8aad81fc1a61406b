/* A screen of the operations room (/screen/<name>): the profile's items in turn, each page in a frame.

   - Rotation: each item stays its ``dwell_s``; keyboard or mouse activity on the screen (or in one
     of its frames) pauses it, and it resumes after ``resume_after_s`` without activity.
   - The profile is polled; a new revision is applied in place (no reload), keeping the rotation's
     place where it can.
   - While the server does not answer the screen keeps what it shows (each frame greys itself out and
     the banner of truth.js says why) and does not move on to pages it could not load.
   - State for people and tests: ``#screen`` carries data-index, data-paused, data-revision;
     ``window.__screenLog`` lists what happened, with times. */

(function () {
    'use strict';
    const root = document.getElementById('screen');
    if (!root) { return; }
    const stage = document.getElementById('screen-stage');
    const pausedNote = document.getElementById('screen-paused');
    const pollMs = Number(root.dataset.pollMs) || 5000;
    const log = window.__screenLog = [];
    window.__screenBoot = window.__screenBoot || String(Date.now()) + Math.random();
    const s = {profile: null, revision: null, index: 0, shownAt: 0, paused: false, lastActivity: 0,
               texts: {paused: 'Rotation paused'}, reachable: true};

    function note(what, extra) { log.push(Object.assign({what: what, at: Date.now(), index: s.index}, extra || {})); }

    function pageUrl(path) {
        const lang = s.profile && s.profile.language;
        return lang ? path + (path.indexOf('?') < 0 ? '?' : '&') + 'lang=' + encodeURIComponent(lang) : path;
    }

    function watchFrame(frame) {
        frame.addEventListener('load', function () {
            try { listen(frame.contentWindow); } catch (e) { /* another origin: not ours to watch */ }
        });
    }

    function clearStage() {
        stage.querySelectorAll('iframe').forEach(function (f) { f.src = 'about:blank'; });
        stage.replaceChildren();
    }

    function render() {
        const items = s.profile.items;
        if (s.index >= items.length) { s.index = 0; }
        const item = items[s.index];
        clearStage();
        const grid = item.grid || {columns: 1, rows: 1, panels: [item.page]};
        stage.style.gridTemplateColumns = 'repeat(' + grid.columns + ', minmax(0, 1fr))';
        stage.style.gridTemplateRows = 'repeat(' + grid.rows + ', minmax(0, 1fr))';
        grid.panels.forEach(function (path) {
            const frame = document.createElement('iframe');
            frame.className = 'screen-panel';
            frame.dataset.page = path;
            frame.title = path;
            watchFrame(frame);
            frame.src = pageUrl(path);
            stage.appendChild(frame);
        });
        s.shownAt = Date.now();
        root.dataset.index = String(s.index);
        root.dataset.items = String(items.length);
        note('show', {pages: grid.panels.slice()});
    }

    function setPaused(paused) {
        if (s.paused === paused) { return; }
        s.paused = paused;
        root.dataset.paused = paused ? 'true' : 'false';
        pausedNote.hidden = !paused;
        document.body.classList.toggle('screen-active', paused);
        if (!paused) { s.shownAt = Date.now(); }  // the item gets its whole dwell again
        note(paused ? 'pause' : 'resume');
    }

    function activity() {
        s.lastActivity = Date.now();
        if (s.profile) {
            pausedNote.textContent = s.texts.paused.replace('{s}', String(Math.round(s.profile.resume_after_s)));
        }
        setPaused(true);
    }

    function listen(win) {
        ['keydown', 'mousemove', 'mousedown', 'wheel', 'touchstart'].forEach(function (type) {
            win.addEventListener(type, activity, {passive: true, capture: true});
        });
    }

    function tick() {
        if (!s.profile) { return; }
        const now = Date.now();
        if (s.paused) {
            if (now - s.lastActivity >= s.profile.resume_after_s * 1000) { setPaused(false); }
            return;
        }
        const item = s.profile.items[s.index];
        if (item && s.profile.items.length > 1 && now - s.shownAt >= item.dwell_s * 1000) {
            if (!s.reachable) { return; }  // keep what is shown (and greyed) rather than load error pages
            s.index = (s.index + 1) % s.profile.items.length;
            render();
        }
    }

    function apply(doc) {
        const first = s.profile === null;
        s.texts = Object.assign({}, s.texts, doc.texts || {});
        s.profile = doc.profile;
        s.revision = doc.revision;
        root.dataset.revision = doc.revision;
        if (!first) { note('profile', {revision: doc.revision}); }
        render();
    }

    function poll() {
        fetch(root.dataset.profileUrl, {cache: 'no-store', credentials: 'same-origin'})
            .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
            .then(function (doc) {
                s.reachable = true;
                if (doc.revision !== s.revision) { apply(doc); }
            })
            .catch(function () { s.reachable = false; });
    }

    root.dataset.paused = 'false';
    listen(window);
    poll();
    setInterval(poll, pollMs);
    setInterval(tick, 250);
}());
