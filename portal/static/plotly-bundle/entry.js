'use strict';
// The portal's plotly.js: the core (with scatter) and only the trace types the portal's figures draw.
// About a quarter of the full bundle's size, so a page with a figure starts faster. A figure that needs
// another trace type must add it here (and `make plotly-bundle`); tests/components check the list.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/box'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/waterfall'),
]);

module.exports = Plotly;
