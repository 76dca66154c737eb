/* Signer page. Without JavaScript the form below the document is the whole flow; with it:
   capture methods and the signature pad, a tap on a field box opens that field's input in a
   dialog (the form's own input, moved in and back, so the form still submits it), the value
   shows in place on the page, "Start"/"Next" walk the required fields, "Finish" waits for
   them, and a tap on a page opens it full size with pinch-zoom and pan. */
(function () {
  "use strict";
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  /* ---- Capture: Type / Draw / Upload, typed preview, the pad ---- */
  $$("[data-capture]").forEach(function (box) {
    function show() {
      var current = $("input[type=radio]:checked", box);
      $$("[data-panel]", box).forEach(function (panel) {
        panel.hidden = !current || panel.getAttribute("data-panel") !== current.value;
      });
      if (box._resize && current && current.value === "drawn") { box._resize(); }
    }
    $$("input[type=radio]", box).forEach(function (r) { r.addEventListener("change", show); });
    var typed = $('input[name$="-typed"]', box), typedPreview = $("[data-typed-preview]", box);
    if (typed && typedPreview) {
      typed.addEventListener("input", function () { typedPreview.textContent = typed.value; });
    }
    var canvas = $("[data-sigpad]", box);
    if (canvas && window.SignaturePad) {
      var pad = new window.SignaturePad(canvas, { penColor: "rgb(16,32,96)", minWidth: 1, maxWidth: 3 });
      var output = $("[data-sigpad-output]", box);
      box._pad = pad;
      box._resize = function () {
        if (!canvas.offsetWidth) { return; }
        var ratio = Math.max(window.devicePixelRatio || 1, 1), data = pad.toData();
        canvas.width = canvas.offsetWidth * ratio;
        canvas.height = canvas.offsetHeight * ratio;
        canvas.getContext("2d").scale(ratio, ratio);
        pad.clear();
        if (data.length) { pad.fromData(data); }
        else if (output.value) { pad.fromDataURL(output.value, { ratio: ratio, width: canvas.offsetWidth, height: canvas.offsetHeight }); }
      };
      var changed = function () { output.dispatchEvent(new Event("change", { bubbles: true })); };
      pad.addEventListener("endStroke", function () { output.value = pad.isEmpty() ? "" : pad.toDataURL("image/png"); changed(); });
      $("[data-sigpad-clear]", box).addEventListener("click", function () { pad.clear(); output.value = ""; changed(); });
      window.addEventListener("resize", function () { if (!canvas.closest("[data-panel]").hidden) { box._resize(); } });
    }
    $$("[data-upload-preview]", box).forEach(function (input) {
      var img = $("[data-preview]", input.parentElement);
      input.addEventListener("change", function () {
        if (input.files && input.files[0] && img) { img.src = URL.createObjectURL(input.files[0]); img.hidden = false; }
      });
    });
    show();
  });

  /* ---- Ink fitted into a box's shape: trimmed, scaled, centred, with a margin ---- */
  function shapeOf(box) {
    var p = (box.getAttribute("data-shape") || "3 / 1").split("/");
    return (parseFloat(p[0]) || 3) / (parseFloat(p[1]) || 1);
  }
  function fitted(source, sw, sh, aspect) {
    var w = 600, h = Math.max(Math.round(w / aspect), 1), out = document.createElement("canvas");
    out.width = w; out.height = h;
    var margin = Math.min(w, h) * 0.08, k = Math.min((w - 2 * margin) / sw, (h - 2 * margin) / sh);
    out.getContext("2d").drawImage(source.canvas || source, source.x || 0, source.y || 0, sw, sh,
      (w - sw * k) / 2, (h - sh * k) / 2, sw * k, sh * k);
    return out.toDataURL("image/png");
  }
  function trimmedPad(canvas, aspect) {
    var ctx = canvas.getContext("2d"), d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var x0 = canvas.width, y0 = canvas.height, x1 = -1, y1 = -1;
    for (var y = 0; y < canvas.height; y++) {
      for (var x = 0; x < canvas.width; x++) {
        if (d[(y * canvas.width + x) * 4 + 3] > 8) {
          if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
        }
      }
    }
    if (x1 < 0) { return ""; }
    return fitted({ canvas: canvas, x: x0, y: y0 }, x1 - x0 + 1, y1 - y0 + 1, aspect);
  }
  function typedInk(name, aspect) {
    var c = document.createElement("canvas"), ctx = c.getContext("2d");
    ctx.font = '110px "Dancing Script", cursive';
    var m = ctx.measureText(name);
    c.width = Math.ceil(m.width) + 20; c.height = 170;
    ctx.font = '110px "Dancing Script", cursive';
    ctx.fillStyle = "rgb(16,32,96)"; ctx.textBaseline = "middle";
    ctx.fillText(name, 10, 85);
    return trimmedPad(c, aspect);
  }

  /* ---- Guided signing ---- */
  var form = document.getElementById("sign-form"), bar = $("[data-guide]");
  var dialog = document.getElementById("field-dialog");
  if (form && bar && dialog && dialog.showModal) {
    var boxes = $$("a.fieldbox.mine"), finish = $$("[data-finish]");
    var adopted = {}, opened = null, home = null, step = -1;
    var hadErrors = !!$(".has-error, #error-form", form);
    bar.hidden = false;
    // Our own checks (Finish waits for the fields, the consent gets its message next to it)
    // instead of the browser's bubbles, which cannot point at a box inside a closed dialog.
    form.noValidate = true;
    if (document.fonts && document.fonts.load) { document.fonts.load('110px "Dancing Script"'); }
    $(".sign-guided-help", form).hidden = false;
    var capture = function (kind) { return $('[data-capture="' + (kind === "stamp" ? "stamp" : "signature") + '"]'); };
    var isImage = function (box) { return /^(signature|initials|stamp)$/.test(box.getAttribute("data-kind")); };

    function method(kind) { var r = $("input[type=radio]:checked", capture(kind)); return r ? r.value : ""; }
    function captured(kind) {
      var c = capture(kind), m = method(kind);
      if (!c) { return false; }
      if (m === "typed") { return !!$('input[name$="-typed"]', c).value.trim(); }
      if (m === "drawn") { return !!$("[data-sigpad-output]", c).value; }
      if (m === "default") { return true; }
      var f = $('input[type=file]', c);
      return !!(f && f.files && f.files.length);
    }
    function input(box) { return document.getElementById("field-" + box.getAttribute("data-field")); }
    function filled(box) {
      var kind = box.getAttribute("data-kind");
      if (isImage(box)) { return !!adopted[box.getAttribute("data-field")] && captured(kind); }
      var el = input(box);
      return el ? (el.type === "checkbox" ? el.checked : !!el.value.trim()) : true;
    }
    function overlay(box) {
      var kind = box.getAttribute("data-kind"), img = $("[data-overlay-img]", box), text = $("[data-overlay-text]", box);
      var src = "", words = "";
      if (filled(box)) {
        if (isImage(box)) {
          var c = capture(kind), m = method(kind), aspect = shapeOf(box);
          if (m === "typed") { src = typedInk($('input[name$="-typed"]', c).value.trim(), aspect); }
          else if (m === "drawn") { src = trimmedPad($("[data-sigpad]", c), aspect); }
          else if (m === "default") { src = $("[data-stamp-default]", c).src; }
          else { src = $("[data-preview]", $('[data-panel="uploaded"]', c)).src; }
        } else {
          var el = input(box);
          words = el.type === "checkbox" ? "\u2713" : el.value;
        }
      }
      img.hidden = !src; if (src) { img.src = src; }
      text.hidden = !words; text.textContent = words;
      box.classList.toggle("done", !!(src || words));
    }
    function progress() {
      var required = boxes.filter(function (b) { return b.hasAttribute("data-required"); });
      var done = required.filter(filled).length;
      $("[data-done-count]", bar).textContent = done;
      finish.forEach(function (b) { b.disabled = done < required.length; });
      return required.filter(function (b) { return !filled(b); });
    }
    function open(box) {
      var target = document.getElementById(box.getAttribute("href").slice(1));
      if (!target) { return; }
      opened = box;
      home = document.createComment("home");
      target.parentNode.insertBefore(home, target);
      $("[data-slot]", dialog).appendChild(target);
      $("[data-field-title]", dialog).textContent = box.getAttribute("data-label");
      var reuse = isImage(box) && !adopted[box.getAttribute("data-field")] && captured(box.getAttribute("data-kind")) &&
        boxes.some(function (b) { return b !== box && b.getAttribute("href") === box.getAttribute("href") && adopted[b.getAttribute("data-field")]; });
      $("[data-reuse]", dialog).hidden = !reuse;
      $("[data-field-error]", dialog).hidden = true;
      dialog.showModal();
      var c = target.matches("[data-capture]") ? target : null;
      if (c && c._resize) {
        var pad = $("[data-sigpad]", c);
        if (pad) { pad.setAttribute("data-aspect", box.getAttribute("data-shape")); pad.style.aspectRatio = box.getAttribute("data-shape"); }
        c._resize();
      }
      var first = $("input:not([type=hidden]):not([type=radio]), input[type=radio]:checked", target);
      if (first) { first.focus(); }
    }
    dialog.addEventListener("close", function () {
      if (home && home.parentNode) { home.parentNode.insertBefore($("[data-slot]", dialog).firstElementChild, home); home.remove(); }
      if (opened) {
        var box = opened; opened = null;
        boxes.forEach(function (b) { if (adopted[b.getAttribute("data-field")] || !isImage(b)) { overlay(b); } });
        progress();
        box.focus({ preventScroll: true });
      }
    });
    $("[data-field-done]", dialog).addEventListener("click", function () {
      var box = opened, kind = box.getAttribute("data-kind");
      if (isImage(box)) {
        if (!captured(kind)) {
          if (box.hasAttribute("data-required")) {
            var err = $("[data-field-error]", dialog);
            err.textContent = dialog.getAttribute("data-empty");
            err.hidden = false;
            return;
          }
        } else {
          // One signature for the party: adopting it here adopts the same capture everywhere
          // the signer already accepted it, so a changed signature changes every box.
          adopted[box.getAttribute("data-field")] = true;
        }
      }
      dialog.close();
    });
    boxes.forEach(function (box) {
      box.addEventListener("click", function (event) { event.preventDefault(); open(box); });
      if (!isImage(box) || hadErrors) {
        if (hadErrors && isImage(box) && captured(box.getAttribute("data-kind"))) { adopted[box.getAttribute("data-field")] = true; }
        overlay(box);
      }
    });
    // Filling the form below the document directly counts too: a signature changed there is
    // adopted in every box it serves (a prefilled typed name alone is not, so Finish waits).
    var refresh = function (event) {
      if (opened) { return; }
      var c = event.target.closest("[data-capture]");
      boxes.forEach(function (b) {
        var mine = c ? b.getAttribute("href") === "#" + c.id : input(b) === event.target;
        if (!mine) { return; }
        if (c) { adopted[b.getAttribute("data-field")] = captured(b.getAttribute("data-kind")); }
        overlay(b);
      });
      progress();
    };
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    var next = $("[data-guide-next]", bar);
    next.addEventListener("click", function () {
      var left = progress();
      next.textContent = next.getAttribute("data-next-label");
      boxes.forEach(function (b) { b.classList.remove("current"); });
      var after = left.filter(function (b) { return boxes.indexOf(b) > step; });
      var target = after[0] || left[0];
      if (target) { step = boxes.indexOf(target); target.classList.add("current"); }
      else { target = document.getElementById("consent-block"); }
      target.scrollIntoView({ behavior: "smooth", block: "center" });
      target.focus({ preventScroll: true });
    });
    form.addEventListener("submit", function (event) {
      var consent = $("input[name=consent]", form);
      if (progress().length) { event.preventDefault(); return; }
      if (!consent.checked) {
        event.preventDefault();
        var block = document.getElementById("consent-block"), msg = $(".error", block);
        if (!msg) {
          msg = document.createElement("p"); msg.className = "error"; msg.id = "error-consent";
          msg.textContent = block.getAttribute("data-required-message");
          block.appendChild(msg);
        }
        block.classList.add("has-error");
        consent.setAttribute("aria-describedby", "error-consent");
        consent.setAttribute("aria-invalid", "true");
        block.scrollIntoView({ block: "center" });
        consent.focus({ preventScroll: true });
      }
    });
    progress();
    var firstError = $(".has-error", form);
    if (firstError) { firstError.scrollIntoView({ block: "center" }); }
  }

  /* ---- Full-size view: pinch-zoom and pan (pointer events), buttons, double tap ---- */
  var zoom = document.getElementById("zoom-dialog");
  if (zoom && zoom.showModal) {
    var stage = $("[data-zoom-stage]", zoom), img = $("[data-zoom-img]", zoom);
    var scale = 1, tx = 0, ty = 0, pointers = {}, pinch = null, lastTap = 0;
    var apply = function () {
      scale = Math.min(Math.max(scale, 1), 6);
      var maxX = Math.max((img.offsetWidth * scale - stage.clientWidth) / 2, 0), maxY = Math.max((img.offsetHeight * scale - stage.clientHeight) / 2, 0);
      tx = Math.min(Math.max(tx, -maxX), maxX); ty = Math.min(Math.max(ty, -maxY), maxY);
      img.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + scale + ")";
    };
    var zoomBy = function (factor) { scale *= factor; tx *= factor; ty *= factor; apply(); };
    $$("a[data-zoom]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        img.src = link.getAttribute("data-zoom");
        img.alt = $("img", link).alt;
        scale = 1; tx = 0; ty = 0; apply();
        zoom.showModal();
      });
    });
    $$("[data-zoom-step]", zoom).forEach(function (b) {
      b.addEventListener("click", function () { zoomBy(b.getAttribute("data-zoom-step") === "1" ? 1.5 : 1 / 1.5); });
    });
    $("[data-zoom-close]", zoom).addEventListener("click", function () { zoom.close(); });
    var spread = function () {
      var p = Object.keys(pointers).map(function (k) { return pointers[k]; });
      return Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y);
    };
    stage.addEventListener("pointerdown", function (e) {
      stage.setPointerCapture(e.pointerId);
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
      if (Object.keys(pointers).length === 2) { pinch = { d: spread(), s: scale }; }
      var now = Date.now();
      if (now - lastTap < 300) { if (scale > 1) { scale = 1; tx = ty = 0; apply(); } else { zoomBy(2.5); } }
      lastTap = now;
    });
    stage.addEventListener("pointermove", function (e) {
      var p = pointers[e.pointerId];
      if (!p) { return; }
      if (pinch && Object.keys(pointers).length === 2) {
        pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
        var factor = (pinch.s * spread() / pinch.d) / scale;
        zoomBy(factor);
        return;
      }
      tx += e.clientX - p.x; ty += e.clientY - p.y;
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
      apply();
    });
    var up = function (e) { delete pointers[e.pointerId]; if (Object.keys(pointers).length < 2) { pinch = null; } };
    stage.addEventListener("pointerup", up);
    stage.addEventListener("pointercancel", up);
    stage.addEventListener("wheel", function (e) { e.preventDefault(); zoomBy(e.deltaY < 0 ? 1.2 : 1 / 1.2); }, { passive: false });
  }
})();
