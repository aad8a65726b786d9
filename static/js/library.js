// The library: "select all on this page" for the export, and a count of what is ticked.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`));
  const update = () => {
    const ticked = boxes().filter((box) => box.checked).length;
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
    if (count) {
      count.textContent = ticked === 0 ? "" : ticked === 1 ? count.dataset.templateOne
        : count.dataset.templateMany.replace("__N__", ticked);
    }
  };
  all.addEventListener("change", () => {
    boxes().forEach((box) => { box.checked = all.checked; });
    update();
  });
  document.addEventListener("change", (event) => {
    if (event.target.name === all.dataset.selectAll) update();
  });
  update();
});
