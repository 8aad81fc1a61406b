/* The wall's browser callbacks (see dashboards/wall.py). */

window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.wall = {
    // New figures reach the graphs through the browser, which carries over the zoom each graph
    // has at that moment. ``uirevision`` alone does not keep it under Dash 4: its Graph writes a
    // zoom back into the ``figure`` prop and re-plots, plotly then takes the zoom as the figure's
    // own starting point, and the next figure from the server resets it. Reading the live plot
    // here, when the new figure arrives, also wins the race against a refresh already in flight.
    // The figures set no ranges of their own, so ``autorange === false`` means the operator zoomed.
    keepZoom: function (figures) {
        const outputs = dash_clientside.callback_context.outputs_list;
        if (!figures) { return outputs.map(() => dash_clientside.no_update); }
        return outputs.map(function (out) {
            const fig = figures[out.id.station];
            if (!fig) { return dash_clientside.no_update; }
            const host = document.getElementById(JSON.stringify({station: out.id.station, type: out.id.type}));
            const live = host && host.querySelector('.js-plotly-plot');
            if (!live || !live.layout) { return fig; }
            const layout = Object.assign({}, fig.layout);
            for (const axis of Object.keys(layout)) {
                const now = /^[xy]axis[0-9]*$/.test(axis) && live.layout[axis];
                if (now && now.autorange === false && Array.isArray(now.range)) {
                    layout[axis] = Object.assign({}, layout[axis], {range: now.range.slice(), autorange: false});
                }
            }
            return Object.assign({}, fig, {layout: layout});
        });
    }
};
