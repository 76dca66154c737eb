// Board helpers: copy a signing link to the clipboard. Everything else is htmx attributes.
(function () {
  "use strict";
  function copy(input, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = button.dataset.copied || "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { fallback(input); done(); });
    } else {
      fallback(input);
      done();
    }
  }
  function fallback(input) {
    input.focus();
    input.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selected for Ctrl+C */ }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.dataset.copy);
    if (input) copy(input, button);
  });
})();
