// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = source instanceof HTMLInputElement || source instanceof HTMLTextAreaElement
    ? source.value : source.innerText;
  navigator.clipboard.writeText(text).then(() => {
    const label = button.textContent;
    button.textContent = button.dataset.copiedLabel || "✓";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-dropzone]").forEach((zone) => {
    const input = document.getElementById(zone.dataset.dropzone);
    if (!input) return;
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.add("dragover");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.remove("dragover");
    }));
    zone.addEventListener("drop", (e) => {
      input.files = e.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
});

// A select that applies itself (team, language, report team): submit its form on change.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.submit();
});

// Destructive buttons and forms ask first: data-confirm holds the question.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const asker = [event.submitter, form].find((el) => el && el.dataset && el.dataset.confirm);
  if (asker && !window.confirm(asker.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Forms that create jobs (data-submit-once) send once: a second click or Enter does nothing
// and the buttons show they are busy. The server also answers a repeat with the first job.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-submit-once]")) return;
  if (form.dataset.submitting === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "1";
  const token = form.querySelector("[name=submission_token]");
  if (token) sessionStorage.setItem(sentTokenKey(form), token.value);
  // Disabled after the browser has read the form, so the clicked button's value is sent.
  setTimeout(() => {
    form.querySelectorAll("button[type=submit], button:not([type])").forEach((button) => {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    });
  }, 0);
});

function sentTokenKey(form) {
  return "grokweb:sent:" + location.pathname + "#" + (form.id || form.action);
}

// Back to a job-creating form that was sent: the browser may load it from the server again,
// with a new token. Send the one it was sent with, so the server answers with the first job.
document.addEventListener("DOMContentLoaded", () => {
  const navigation = performance.getEntriesByType("navigation")[0];
  if (!navigation || navigation.type !== "back_forward") return;
  document.querySelectorAll("form[data-submit-once]").forEach((form) => {
    const sent = sessionStorage.getItem(sentTokenKey(form));
    const token = form.querySelector("[name=submission_token]");
    if (sent && token) token.value = sent;
  });
});

// Back to a page kept in the browser's memory: its forms can be used again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  document.querySelectorAll("form[data-submit-once]").forEach((form) => {
    delete form.dataset.submitting;
    form.querySelectorAll("button[aria-busy]").forEach((button) => {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  });
});
