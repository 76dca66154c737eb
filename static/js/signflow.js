// Loaded on every page. The Content-Security-Policy forbids inline style attributes, so sizes
// and positions computed on the server travel in data attributes and are applied here through
// the CSSOM, which the policy allows:
//   data-box="left top width height" (percent of the page) -> left/top/width/height
//   data-aspect="width / height"                            -> aspect-ratio
(function () {
  "use strict";
  var SELECTOR = "[data-box], [data-aspect]";
  function place(root) {
    if (!root.querySelectorAll) return;
    var nodes = Array.prototype.slice.call(root.querySelectorAll(SELECTOR));
    if (root.matches && root.matches(SELECTOR)) nodes.push(root);
    nodes.forEach(function (el) {
      if (el.dataset.aspect) el.style.aspectRatio = el.dataset.aspect;
      if (el.dataset.box) {
        var p = el.dataset.box.split(" ");
        el.style.left = p[0] + "%";
        el.style.top = p[1] + "%";
        el.style.width = p[2] + "%";
        el.style.height = p[3] + "%";
      }
    });
  }
  place(document);
  // Content swapped in by htmx (the template preview) carries its own boxes.
  document.addEventListener("htmx:load", function (event) { place(event.target); });
})();
