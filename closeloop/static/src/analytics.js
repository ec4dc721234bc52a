// The analytics pages' charts (closeloop/analytics). Its own entry point: only these pages load
// ECharts. The data comes from a json_script block; a click on a bar, slice or heat-map cell
// opens the work order list behind it (the same link as the number in the table). A chart's
// "PNG" button ([data-png], enabled once the chart is drawn) downloads it as an image.
import * as echarts from "echarts/core";
import { BarChart, HeatmapChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, HeatmapChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent,
  VisualMapComponent, CanvasRenderer]);

// Tooltips are drawn on the canvas (richText): no inline styles for the page's CSP to refuse.
const tooltip = { trigger: "item", renderMode: "richText" };

function option(spec) {
  if (spec.kind === "pie") {
    return {
      tooltip,
      series: [{ type: "pie", radius: ["35%", "70%"],
        data: spec.x.map((name, i) => ({ name, value: spec.series[0].data[i] })) }],
    };
  }
  if (spec.kind === "heatmap") {
    const max = Math.max(1, ...spec.data.map((d) => d[2]));
    return {
      tooltip,
      grid: { left: 8, right: 8, top: 8, bottom: 70, containLabel: true },
      xAxis: { type: "category", data: spec.x, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: "category", data: spec.y },
      visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
        inRange: { color: ["#f1f5f9", "#fde68a", "#f97316", "#b91c1c"] } },
      series: [{ type: "heatmap", data: spec.data.map((d) => [d[0], d[1], d[2]]),
        label: { show: window.innerWidth >= 768 } }],
    };
  }
  return {
    tooltip: { ...tooltip, trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 8, top: 30, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: spec.x, axisLabel: { hideOverlap: true } },
    yAxis: { type: "value" },
    series: spec.series.map((s) => ({ name: s.name, type: spec.kind, data: s.data, smooth: false, barMaxWidth: 48 })),
  };
}

const drawn = {};

function draw(el, spec) {
  const chart = echarts.init(el, null, { renderer: "canvas" });
  drawn[el.dataset.chart] = chart;
  chart.setOption(option(spec));
  if (spec.urls) {
    chart.on("click", (p) => {
      const url = spec.urls[p.dataIndex];
      if (url) window.location.assign(url);
    });
  }
  window.addEventListener("resize", () => chart.resize());
  el.dataset.ready = "1";
  document.querySelectorAll(`[data-png="${el.dataset.chart}"]`).forEach((b) => { b.disabled = false; });
}

// The chart as a PNG file: white background (the canvas is transparent), twice the pixels.
function downloadPng(button) {
  const chart = drawn[button.dataset.png];
  if (!chart) return;
  const a = document.createElement("a");
  a.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
  a.download = `${button.dataset.pngName || button.dataset.png}.png`;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

document.addEventListener("click", (e) => {
  const button = e.target.closest && e.target.closest("[data-png]");
  if (button) downloadPng(button);
});

function start() {
  const many = document.getElementById("analytics-charts");
  const charts = many ? JSON.parse(many.textContent) : {};
  const heat = document.getElementById("analytics-heatmap");
  if (heat) charts.heatmap = JSON.parse(heat.textContent);
  document.querySelectorAll("[data-chart]").forEach((el) => {
    const spec = charts[el.dataset.chart];
    if (spec) draw(el, spec);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
