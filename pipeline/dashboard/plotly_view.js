// Draws one plotly figure (the JSON plotly.py writes) with the dashboard's partial plotly.js bundle.
//
// The bundle is a classic script served from the app's static folder and loaded once per browser tab: every chart
// of the page waits for the same promise.  The chart's <div> stays in place across reruns, so new data is drawn
// with Plotly.react (a diff) instead of a new plot.  data-drawn="1" marks a drawn chart (the browser tests and the
// page benchmark wait for it); a failure to load the bundle is written into the chart's box.

function loadPlotly(src) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__xxgkPlotly) {
    window.__xxgkPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error(`${src} 未定义 Plotly`)));
      script.onerror = () => {
        window.__xxgkPlotly = undefined; // the next chart tries again
        reject(new Error(`图表脚本未能加载：${src}`));
      };
      document.head.appendChild(script);
    });
  }
  return window.__xxgkPlotly;
}

export default function ({ parentElement, data }) {
  let box = parentElement.querySelector('[data-testid="xxgkChart"]');
  if (!box) {
    box = document.createElement("div");
    box.dataset.testid = "xxgkChart";
    box.style.width = "100%";
    parentElement.appendChild(box);
  }
  const figure = JSON.parse(data.figure);
  const layout = figure.layout || {};
  box.style.height = `${layout.height || 450}px`; // the chart's space is kept while the bundle loads
  box.dataset.drawn = "0";
  let alive = true;
  let observer;
  loadPlotly(data.src)
    .then((Plotly) => {
      if (!alive) return undefined;
      return Plotly.react(box, figure.data || [], layout, data.config).then(() => {
        if (!alive) return;
        box.dataset.drawn = "1";
        let width = box.clientWidth;
        observer = new ResizeObserver(() => {
          if (box.clientWidth !== width && box.clientWidth > 0) {
            width = box.clientWidth;
            Plotly.Plots.resize(box);
          }
        });
        observer.observe(box);
      });
    })
    .catch((error) => {
      box.dataset.drawn = "error";
      box.textContent = String((error && error.message) || error);
    });
  return () => {
    alive = false;
    if (observer) observer.disconnect();
  };
}
