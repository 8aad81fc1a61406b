/* The sea map's browser callbacks (see dashboards/sea/callbacks.py). */

window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.sea = {
    // The figure is put together in the browser from what the server sent (the base map once,
    // the vessels every tick, the tracks every few ticks, the selection), carrying over the view
    // the operator has now: read from the live MapLibre map, so a pan in progress or a refresh
    // already in flight never throws the map back. "Fit view" starts a new uirevision.
    figure: function (vessels, tracks, selection, resets, base) {
        if (!base) { return dash_clientside.no_update; }
        const w = window;
        const triggered = (dash_clientside.callback_context.triggered || []).map(t => t.prop_id);
        const reset = triggered.indexOf('sea-reset.n_clicks') >= 0;
        const style = base.layout.map.style;
        if (!w.__seaStyle || w.__seaStyleId !== style.id) {
            const origin = window.location.origin;
            w.__seaStyle = Object.assign({}, style,
                                         {sprite: origin + style.sprite, glyphs: origin + style.glyphs});
            w.__seaStyleId = style.id;
        }
        const map = Object.assign({}, base.layout.map, {style: w.__seaStyle});
        const host = document.getElementById('sea-map');
        const gd = host && host.querySelector('.js-plotly-plot');
        const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
        const live = sub && sub.map;
        // the operator's view is read from the map only once it shows this revision: after "Fit view"
        // the next refresh can come before the map has drawn the fitted figure (the Graph draws its
        // figures one after the other), and reading the old view then would undo the fit
        const revision = 'sea-' + (resets || 0);
        const drawn = gd && gd._fullLayout && gd._fullLayout.uirevision === revision;
        if (live && !reset && drawn) {
            const ctr = live.getCenter();
            map.center = {lon: ctr.lng, lat: ctr.lat};
            map.zoom = live.getZoom();
            map.bearing = live.getBearing();
            map.pitch = live.getPitch();
        }
        // a vessel picked in the side panel: bring it into view if it is not well inside it already
        if (selection && selection.focus && selection.seq !== w.__seaFocusSeq) {
            w.__seaFocusSeq = selection.seq;
            let inside = false;
            if (live) {
                const p = live.project([selection.focus.lon, selection.focus.lat]);
                const box = live.getContainer().getBoundingClientRect();
                inside = p.x > 0.15 * box.width && p.x < 0.85 * box.width &&
                         p.y > 0.15 * box.height && p.y < 0.85 * box.height;
            }
            if (!inside) {
                map.center = {lon: selection.focus.lon, lat: selection.focus.lat};
                map.zoom = Math.max(map.zoom || 0, 9.5);
            }
        }
        // the tracks: a MapLibre source of their own, loaded from the server by URL (see track_geojson)
        if (tracks && tracks.url) {
            w.__seaTracks = Object.assign({}, tracks, {url: window.location.origin + tracks.url});
        }
        if (!w.__seaSyncTracks) {
            w.__seaSyncTracks = function (m) {
                const t = w.__seaTracks;
                if (!t || !m || !m.isStyleLoaded()) { return; }
                const order = typeof m.getLayersOrder === 'function' ? m.getLayersOrder()
                                                                     : m.getStyle().layers.map(l => l.id);
                const firstTrace = order.find(id => id.indexOf('plotly-trace-layer-') === 0);
                const src = m.getSource('sea-tracks');
                if (!src) {
                    m.addSource('sea-tracks', {type: 'geojson', data: t.url});
                    m.addLayer({id: 'sea-tracks', type: 'line', source: 'sea-tracks',
                                paint: {'line-color': t.color, 'line-width': t.width}}, firstTrace);
                } else {
                    if (w.__seaTracksShown !== t.url) { src.setData(t.url); }
                    // above the zones, under every vessel: just below the first trace layer
                    const at = order.indexOf('sea-tracks');
                    if (firstTrace && order[at + 1] !== firstTrace) { m.moveLayer('sea-tracks', firstTrace); }
                }
                w.__seaTracksShown = t.url;
            };
        }
        if (gd && gd.on && !gd.__seaHooked) {
            gd.__seaHooked = true;
            gd.on('plotly_afterplot', function () {
                const s = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
                w.__seaSyncTracks(s && s.map);
            });
        }
        w.__seaSyncTracks(live);
        // No fading of symbols: the vessel arrows may overlap, so nothing is ever faded out for a
        // collision, and the fade only made MapLibre draw three or four more frames after every
        // refresh (a third of the page's CPU on a wall PC drawing without a GPU). Plotly makes the
        // map without MapLibre's fadeDuration option, and MapLibre keeps it in this field.
        if (live && live._fadeDuration) { live._fadeDuration = 0; }
        // the selected vessel's track under the vessels; never no trace at all: the zone layers go
        // below the first trace layer, which must exist (each trace costs the map work on every tick)
        // the vessels come as one JSON document encoded once on the server for every screen: parsed
        // here once per tick, not again when the tracks or the selection change
        if (typeof vessels === 'string' && vessels !== w.__seaVesselsDoc) {
            w.__seaVesselsDoc = vessels;
            w.__seaVessels = JSON.parse(vessels);
        }
        const fleet = typeof vessels === 'string' ? w.__seaVessels : vessels;
        const data = (selection && selection.traces) ? selection.traces.slice() : [];
        if (fleet && fleet.traces) { data.push(...fleet.traces); }
        if (!data.length) { data.push({type: 'scattermap', name: 'vessels', mode: 'markers', lon: [], lat: []}); }
        const layout = Object.assign({}, base.layout, {map: map, uirevision: revision});
        return {data: data, layout: layout};
    },

    // Esc closes the details panel.
    keys: function (cfg) {
        if (!window.__seaKeys) {
            window.__seaKeys = true;
            document.addEventListener('keydown', function (e) {
                if (e.key === 'Escape') { const b = document.getElementById('sea-close'); if (b) { b.click(); } }
            });
        }
        return dash_clientside.no_update;
    }
};
