// The generate and re-run form: choosing a task type puts its preset temperature in the
// Advanced field, so what is shown is what runs. Presets come from json_script.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("generate-form");
  const source = document.getElementById("task-presets");
  const temperature = document.getElementById("id_temperature");
  if (!form || !source || !temperature) return;
  const presets = JSON.parse(source.textContent);
  form.addEventListener("change", (event) => {
    const input = event.target;
    if (input.name !== "task_type" || !(input.value in presets)) return;
    temperature.value = presets[input.value];
    // The live estimate listens for changes on the form.
    temperature.dispatchEvent(new Event("change", { bubbles: true }));
  });
});
