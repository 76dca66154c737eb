// Verification page: drop a PDF on the form, and show the upload's progress.
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  var input = document.getElementById("verify-file");
  var drop = document.getElementById("verify-drop");
  var progress = document.getElementById("verify-progress");
  if (!form || !input) return;
  ["dragover", "dragenter"].forEach(function (t) {
    form.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("dragging"); });
  });
  form.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; }
  });
  form.addEventListener("submit", function (e) {
    if (!window.XMLHttpRequest || !input.files.length) { return; }
    e.preventDefault();
    var xhr = new XMLHttpRequest();
    progress.hidden = false;
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) { progress.value = Math.round(100 * ev.loaded / ev.total); }
    });
    xhr.addEventListener("load", function () {
      document.open(); document.write(xhr.responseText); document.close();
    });
    xhr.addEventListener("error", function () { form.submit(); });
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  });
})();
