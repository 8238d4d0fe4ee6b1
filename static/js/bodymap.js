// The body-map picker of the lesion form (templates/cases/_body_map_picker.html): a click on
// the front or back outline, or Enter on a focused outline after moving its crosshair with the
// arrow keys, fills in the view, x and y fields (x, y in 0..1 of that view's box) and draws the
// marker. Typing in the fields moves the marker too. Without JavaScript the fields work alone.
(function () {
  "use strict";

  var WIDTH = 200;
  var HEIGHT = 500;
  var STEP = 0.01;
  var BIG_STEP = 0.05;

  function clamp01(value) { return Math.min(1, Math.max(0, value)); }
  function percent(value) { return Math.round(value * 100) + " %"; }
  function setHidden(el, hidden) { if (el) el.toggleAttribute("hidden", hidden); }
  function place(group, x, y) { group.setAttribute("transform", "translate(" + (x * WIDTH).toFixed(1) + " " + (y * HEIGHT).toFixed(1) + ")"); }

  function init(root) {
    // Once per element, however often the script is included.
    if (root.hasAttribute("data-picker-ready")) return;
    root.setAttribute("data-picker-ready", "");
    var viewField = root.querySelector('[name$="body_map_view"]');
    var xField = root.querySelector('[name$="body_map_x"]');
    var yField = root.querySelector('[name$="body_map_y"]');
    var status = root.querySelector("[data-picker-status]");
    var clearButton = root.querySelector("[data-picker-clear]");
    if (!viewField || !xField || !yField) return;

    function announce(text) { if (status) status.textContent = text; }

    function current() {
      var x = parseFloat(xField.value), y = parseFloat(yField.value);
      var view = viewField.value;
      if ((view !== "front" && view !== "back") || !isFinite(x) || !isFinite(y)) return null;
      return { view: view, x: clamp01(x), y: clamp01(y) };
    }

    var views = Array.prototype.map.call(root.querySelectorAll("[data-picker-view]"), function (svg) {
      return {
        svg: svg,
        name: svg.getAttribute("data-picker-view"),
        marker: svg.querySelector("[data-picker-marker]"),
        crosshair: svg.querySelector("[data-picker-crosshair]"),
        cross: { x: 0.5, y: 0.3 },
      };
    });

    function draw() {
      var position = current();
      views.forEach(function (view) {
        var here = position && position.view === view.name;
        setHidden(view.marker, !here);
        if (here) place(view.marker, position.x, position.y);
      });
      setHidden(clearButton, !position);
    }

    function fire(field) { field.dispatchEvent(new Event("change", { bubbles: true })); }

    function choose(view, x, y) {
      viewField.value = view.name;
      xField.value = x.toFixed(3);
      yField.value = y.toFixed(3);
      [viewField, xField, yField].forEach(fire);
      view.cross = { x: x, y: y };
      draw();
      announce("Marker placed on the " + view.name + " view, " + percent(x) + " across, " + percent(y) + " down.");
    }

    views.forEach(function (view) {
      var svg = view.svg;
      svg.setAttribute("tabindex", "0");
      svg.classList.add("is-pickable");

      svg.addEventListener("click", function (event) {
        var matrix = svg.getScreenCTM();
        if (!matrix) return;
        var point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
        var x = point.x / WIDTH, y = point.y / HEIGHT;
        if (x < 0 || x > 1 || y < 0 || y > 1) return;
        choose(view, x, y);
      });

      svg.addEventListener("focus", function () {
        var position = current();
        if (position && position.view === view.name) view.cross = { x: position.x, y: position.y };
        place(view.crosshair, view.cross.x, view.cross.y);
        setHidden(view.crosshair, false);
      });
      svg.addEventListener("blur", function () { setHidden(view.crosshair, true); });

      svg.addEventListener("keydown", function (event) {
        if (event.ctrlKey || event.metaKey || event.altKey) return;
        var step = event.shiftKey ? BIG_STEP : STEP;
        var cross = view.cross;
        switch (event.key) {
          case "ArrowLeft": cross.x = clamp01(cross.x - step); break;
          case "ArrowRight": cross.x = clamp01(cross.x + step); break;
          case "ArrowUp": cross.y = clamp01(cross.y - step); break;
          case "ArrowDown": cross.y = clamp01(cross.y + step); break;
          case "Enter": case " ": case "Spacebar":
            event.preventDefault();
            choose(view, cross.x, cross.y);
            return;
          default: return;
        }
        event.preventDefault();
        place(view.crosshair, cross.x, cross.y);
        announce("Crosshair " + percent(cross.x) + " across, " + percent(cross.y) + " down. Enter places the marker.");
      });
    });

    [viewField, xField, yField].forEach(function (field) {
      field.addEventListener("input", draw);
      field.addEventListener("change", draw);
    });

    if (clearButton) clearButton.addEventListener("click", function () {
      viewField.value = "";
      xField.value = "";
      yField.value = "";
      [viewField, xField, yField].forEach(fire);
      draw();
      announce("Removed from the body map.");
    });

    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-body-map-picker]").forEach(init);
  });
})();
