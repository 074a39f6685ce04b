// Rebuilds plotly-xxgk.min.js: plotly.js core (scatter) + bar + treemap, the trace types the dashboard draws.
//
//   mkdir /tmp/plotly-build && cd /tmp/plotly-build
//   npm install --ignore-scripts plotly.js@4.1.1 esbuild@0.25.12
//   node /path/to/xxgk/static/plotly/build.js
//
// The esbuild options are plotly.js's own (its esbuild-config.js) without the plugins that only the WebGL and map
// traces need; the map traces' CSS is left out for the same reason.
"use strict";
const path = require("path");
const { version } = require(require.resolve("plotly.js/package.json", { paths: [process.cwd()] }));
const entry = `
var Plotly = require('plotly.js/lib/core');
Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/treemap')]);
module.exports = Plotly;
`;
require(require.resolve("esbuild", { paths: [process.cwd()] })).build({
  stdin: { contents: entry, resolveDir: process.cwd() },
  outfile: path.join(__dirname, "plotly-xxgk.min.js"),
  format: "iife",
  globalName: "Plotly",
  bundle: true,
  minify: true,
  target: "es2016",
  define: { global: "window", "define.amd": "false" },
  alias: { stream: "stream-browserify" },
  loader: { ".css": "empty" },
  legalComments: "none",
  banner: { js: `/*! plotly.js v${version} (partial bundle: scatter, bar, treemap) | MIT License, see LICENSE | https://github.com/plotly/plotly.js */` },
  logLevel: "info",
}).catch(() => process.exit(1));
