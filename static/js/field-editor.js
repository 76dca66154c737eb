// Field editor: drag, resize and keyboard-move field boxes on the page previews.
// The side forms are the source of truth: a change fills the field's form and submits it
// through htmx (or a normal POST without htmx); the saved row comes back and the box follows it.
(function () {
  "use strict";
  const editor = document.querySelector(".editor");
  if (!editor) return;
  const editable = editor.dataset.editable === "true";

  function pageOf(box) { return box.closest(".editor-page"); }
  function rowOf(box) { return document.getElementById("row-" + box.dataset.fieldId); }
  function pt(page) { return { w: parseFloat(page.dataset.widthPt), h: parseFloat(page.dataset.heightPt) }; }

  // Box position (percent of the page, top-left) <-> field rectangle (points, bottom-left).
  // Both are in the page as displayed (after /Rotate, from the visible box's corner): the
  // previews are rendered that way and data-width-pt/height-pt are the displayed size, so no
  // rotation or offset is ever applied here (documents/models.py, "Coordinates convention").
  function placeBox(box, rect) {
    const size = pt(pageOf(box));
    box.style.left = (rect.x / size.w * 100) + "%";
    box.style.top = ((size.h - rect.y - rect.height) / size.h * 100) + "%";
    box.style.width = (rect.width / size.w * 100) + "%";
    box.style.height = (rect.height / size.h * 100) + "%";
  }
  function rectOfBox(box) {
    const size = pt(pageOf(box));
    const left = parseFloat(box.style.left), top = parseFloat(box.style.top);
    const width = parseFloat(box.style.width), height = parseFloat(box.style.height);
    const rect = { x: left / 100 * size.w, width: width / 100 * size.w, height: height / 100 * size.h };
    rect.y = size.h - top / 100 * size.h - rect.height;
    return rect;
  }
  function clamp(rect, page) {
    const size = pt(page);
    rect.width = Math.max(6, Math.min(rect.width, size.w));
    rect.height = Math.max(6, Math.min(rect.height, size.h));
    rect.x = Math.max(0, Math.min(rect.x, size.w - rect.width));
    rect.y = Math.max(0, Math.min(rect.y, size.h - rect.height));
    return rect;
  }
  // Text and images of each page (display points, from the server: documents.content_boxes):
  // a field that covers them is flagged, and its row says so.
  function contentOf(page) {
    if (!page._content) {
      try { page._content = JSON.parse(page.dataset.content || "[]"); } catch (e) { page._content = []; }
    }
    return page._content;
  }
  function covers(rect, boxes) {
    return boxes.some(function (b) {
      return Math.min(rect.x + rect.width, b[0] + b[2]) - Math.max(rect.x, b[0]) > 1 &&
        Math.min(rect.y + rect.height, b[1] + b[3]) - Math.max(rect.y, b[1]) > 1;
    });
  }
  function checkOverlap(box) {
    const page = pageOf(box);
    if (!page) return;
    const over = covers(rectOfBox(box), contentOf(page));
    box.classList.toggle("overlaps", over);
    const row = rowOf(box);
    const warning = row && row.querySelector("[data-overlap-warning]");
    if (warning) warning.hidden = !over;
  }
  function save(box) {
    const row = rowOf(box);
    if (!row) return;
    const rect = rectOfBox(box);
    for (const name of ["x", "y", "width", "height"]) {
      row.elements[name].value = rect[name].toFixed(1);
    }
    if (row.requestSubmit) row.requestSubmit(); else row.submit();
  }
  function syncFromRows() {
    document.querySelectorAll(".field-row").forEach(function (row) {
      const box = document.getElementById("box-" + row.dataset.fieldId);
      if (!box || String(pageOf(box).dataset.page) !== row.dataset.page) return;
      placeBox(box, { x: +row.dataset.x, y: +row.dataset.y, width: +row.dataset.width, height: +row.dataset.height });
      checkOverlap(box);
    });
    // A deleted field's row is gone: remove its box too.
    document.querySelectorAll(".editor-box").forEach(function (box) {
      if (!rowOf(box)) box.remove();
    });
  }
  document.body.addEventListener("htmx:afterSettle", syncFromRows);

  if (!editable) return;

  let drag = null;
  editor.addEventListener("pointerdown", function (event) {
    const box = event.target.closest(".editor-box");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.setPointerCapture(event.pointerId);
    const rect = pageOf(box).getBoundingClientRect();
    drag = {
      box: box, resize: event.target.classList.contains("editor-handle"),
      startX: event.clientX, startY: event.clientY, pageW: rect.width, pageH: rect.height,
      left: parseFloat(box.style.left), top: parseFloat(box.style.top),
      width: parseFloat(box.style.width), height: parseFloat(box.style.height), moved: false,
    };
  });
  editor.addEventListener("pointermove", function (event) {
    if (!drag) return;
    const dx = (event.clientX - drag.startX) / drag.pageW * 100;
    const dy = (event.clientY - drag.startY) / drag.pageH * 100;
    drag.moved = drag.moved || Math.abs(dx) + Math.abs(dy) > 0.2;
    if (drag.resize) {
      drag.box.style.width = Math.max(1, Math.min(100 - drag.left, drag.width + dx)) + "%";
      drag.box.style.height = Math.max(1, Math.min(100 - drag.top, drag.height + dy)) + "%";
    } else {
      drag.box.style.left = Math.max(0, Math.min(100 - drag.width, drag.left + dx)) + "%";
      drag.box.style.top = Math.max(0, Math.min(100 - drag.height, drag.top + dy)) + "%";
    }
  });
  editor.addEventListener("pointerup", function () {
    if (!drag) return;
    const done = drag;
    drag = null;
    checkOverlap(done.box);
    if (done.moved) save(done.box);
  });

  editor.addEventListener("keydown", function (event) {
    const box = event.target.closest(".editor-box");
    if (!box) return;
    const row = rowOf(box);
    if (event.key === "Delete" || event.key === "Backspace") {
      const button = row && row.querySelector("button.danger");
      if (button) { event.preventDefault(); button.click(); }
      return;
    }
    const step = event.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const rect = rectOfBox(box);
    if (event.altKey) { rect.width += move[0]; rect.height -= move[1]; rect.y += move[1]; }
    else { rect.x += move[0]; rect.y += move[1]; }
    placeBox(box, clamp(rect, pageOf(box)));
    checkOverlap(box);
    clearTimeout(box._saveTimer);
    box._saveTimer = setTimeout(function () { save(box); }, 400);
  });

  editor.addEventListener("focusin", function (event) {
    const box = event.target.closest(".editor-box");
    document.querySelectorAll(".field-row.active").forEach(function (r) { r.classList.remove("active"); });
    if (box && rowOf(box)) rowOf(box).classList.add("active");
  });
})();
