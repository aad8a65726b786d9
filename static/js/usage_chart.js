// The dashboard's daily chart: tokens (bars) and ¥ (line). Data comes from json_script;
// ¥ is exact and labelled with the one display rule (money.js).
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("usage-chart");
  const source = document.getElementById("usage-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const yuan = (value) => "¥" + window.GrokWeb.formatYuan(value);
  const count = (value) => Number(value).toLocaleString("en-US");
  new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.names.input_tokens, data: data.input_tokens,
          backgroundColor: "#8fa4ff", stack: "tokens", yAxisID: "tokens" },
        { type: "bar", label: data.names.output_tokens, data: data.output_tokens,
          backgroundColor: "#3552d8", stack: "tokens", yAxisID: "tokens" },
        { type: "line", label: data.names.cost, data: data.cost, borderColor: "#b42318",
          backgroundColor: "#b42318", tension: 0.2, pointRadius: 2, yAxisID: "cost" },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        tooltip: {
          callbacks: {
            label: (item) => item.dataset.label + ": " +
              (item.dataset.yAxisID === "cost" ? yuan(item.parsed.y) : count(item.parsed.y)),
          },
        },
      },
      scales: {
        tokens: { type: "linear", position: "left", stacked: true, beginAtZero: true,
                  ticks: { callback: count },
                  title: { display: true, text: data.names.tokens } },
        cost: { type: "linear", position: "right", beginAtZero: true,
                grid: { drawOnChartArea: false },
                ticks: { callback: yuan },
                title: { display: true, text: data.names.cost } },
        x: { stacked: true },
      },
    },
  });
});
