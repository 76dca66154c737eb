/* Signing page: switch capture methods, preview typed and uploaded signatures, signature pad. */
(function () {
  "use strict";
  document.querySelectorAll("[data-capture]").forEach(function (box) {
    var radios = box.querySelectorAll('input[type=radio]');
    function show() {
      var current = box.querySelector('input[type=radio]:checked');
      box.querySelectorAll("[data-panel]").forEach(function (panel) {
        panel.hidden = !current || panel.getAttribute("data-panel") !== current.value;
      });
      if (current && current.value === "drawn" && box._pad) { box._resize(); }
    }
    radios.forEach(function (r) { r.addEventListener("change", show); });

    var typed = box.querySelector('input[name$="-typed"]');
    var typedPreview = box.querySelector("[data-typed-preview]");
    if (typed && typedPreview) {
      typed.addEventListener("input", function () { typedPreview.textContent = typed.value; });
    }
    var canvas = box.querySelector("[data-sigpad]");
    if (canvas && window.SignaturePad) {
      var pad = new window.SignaturePad(canvas, { penColor: "rgb(16,32,96)", minWidth: 1, maxWidth: 3 });
      var output = box.querySelector("[data-sigpad-output]");
      box._pad = pad;
      box._resize = function () {
        var ratio = Math.max(window.devicePixelRatio || 1, 1);
        var data = pad.toData();
        canvas.width = canvas.offsetWidth * ratio;
        canvas.height = canvas.offsetHeight * ratio;
        canvas.getContext("2d").scale(ratio, ratio);
        pad.clear();
        pad.fromData(data);
      };
      pad.addEventListener("endStroke", function () { output.value = pad.isEmpty() ? "" : pad.toDataURL("image/png"); });
      box.querySelector("[data-sigpad-clear]").addEventListener("click", function () { pad.clear(); output.value = ""; });
      window.addEventListener("resize", function () { if (!canvas.closest("[data-panel]").hidden) { box._resize(); } });
    }
    box.querySelectorAll("[data-upload-preview]").forEach(function (input) {
      var img = input.parentElement.querySelector("[data-preview]");
      input.addEventListener("change", function () {
        if (input.files && input.files[0] && img) {
          img.src = URL.createObjectURL(input.files[0]);
          img.hidden = false;
        }
      });
    });
    show();
  });
})();

/* "Next field" guide: scroll to the signer's next unfilled field, then to the form. */
(function () {
  "use strict";
  var button = document.querySelector("[data-next-field]");
  if (!button) { return; }
  var index = -1;
  button.addEventListener("click", function () {
    var targets = Array.prototype.slice.call(document.querySelectorAll(".fieldbox.mine:not(.filled)"));
    var form = document.getElementById("sign-form") || document.getElementById("code-step");
    if (form) { targets.push(form); }
    if (!targets.length) { return; }
    index = (index + 1) % targets.length;
    targets[index].scrollIntoView({ behavior: "smooth", block: "center" });
    targets[index].focus({ preventScroll: true });
  });
})();
