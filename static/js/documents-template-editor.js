// Template editor: the toolbar inserts field tags and CRM values at the cursor; the preview
// (htmx, documents/template_form.html) follows the text, debounced, and keeps its page.
(function () {
  "use strict";
  const form = document.getElementById("template-form");
  const body = document.getElementById("id_body");
  if (!form || !body) return;
  const toolbar = form.querySelector(".template-toolbar");
  if (toolbar && !body.closest("fieldset[disabled]")) toolbar.hidden = false;

  function insert(text) {
    const start = body.selectionStart, end = body.selectionEnd;
    body.setRangeText(text, start, end, "end");
    body.focus();
    // The preview listens for input on the form.
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  form.addEventListener("click", function (event) {
    const button = event.target.closest("[data-insert]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.insert === "field") {
      const kind = document.getElementById("tag-kind").value;
      const party = document.getElementById("tag-party").value;
      insert('{% field "' + kind + '" party="' + party + '" %}');
    } else {
      insert("{{ " + document.getElementById("crm-variable").value + " }}");
    }
  });

  // Page buttons of the preview: with JavaScript, fetch that page through htmx instead of
  // submitting the whole form.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-preview-page]");
    if (!button || !window.htmx) return;
    event.preventDefault();
    document.getElementById("preview-page").value = button.dataset.previewPage;
    window.htmx.trigger("#template-preview", "sf-preview-page");
  });
})();
