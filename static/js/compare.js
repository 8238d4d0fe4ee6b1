// The compare page of two visits of one lesion (templates/cases/lesion_compare.html).
// Side by side with synchronised zoom and pan; when the later image could be aligned to the
// earlier one, also swipe, blink and difference views. Every view shares one transform kept in
// normalised image coordinates (zoom, and the image point at the viewport's centre), so images
// of different pixel sizes move together. Without JavaScript the page shows the two images,
// their results and the measured change; the toolbars stay hidden.
(function () {
  "use strict";

  var MIN_ZOOM = 1;
  var MAX_ZOOM = 16;
  var ZOOM_STEP = 1.25;
  var PAN_STEP = 0.1;          // arrow keys move by this share of the viewport
  var BLINK_MS = 600;

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  function isTextField(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) return true;
    if (tag !== "input") return false;
    var type = (el.getAttribute("type") || "text").toLowerCase();
    return ["button", "checkbox", "radio", "range", "submit", "reset", "image", "file", "color"].indexOf(type) === -1;
  }

  function setHidden(el, hidden) { if (el) el.toggleAttribute("hidden", hidden); }

  function init(root) {
    // Once per element, however often the script is included.
    if (root.hasAttribute("data-compare-ready")) return;
    root.setAttribute("data-compare-ready", "");
    var state = { zoom: 1, cx: 0.5, cy: 0.5, swipe: 50, mode: "side", blinkShown: "earlier" };
    var status = root.querySelector("[data-compare-status]");
    var zoomLevel = root.querySelector("[data-zoom-level]");
    var overlay = root.querySelector("[data-overlay]");
    var panes = root.querySelector("[data-panes]");
    var swipeRange = root.querySelector("[data-swipe-range]");
    var blinkShownText = root.querySelector("[data-blink-shown-text]");
    var autoButton = root.querySelector("[data-blink-auto]");
    var dates = { earlier: root.getAttribute("data-earlier-date") || "", later: root.getAttribute("data-later-date") || "" };
    var autoTimer = null;
    var announceTimer = null;

    function announce(text) {
      if (!status) return;
      // Clear first so that the same words twice are read twice.
      status.textContent = "";
      window.clearTimeout(announceTimer);
      announceTimer = window.setTimeout(function () { status.textContent = text; }, 50);
    }

    var views = Array.prototype.map.call(root.querySelectorAll("[data-viewport]"), function (el) {
      var stage = el.querySelector("[data-stage]");
      var view = { el: el, stage: stage, w: Number(stage.getAttribute("data-width")) || 0, h: Number(stage.getAttribute("data-height")) || 0 };
      if (!view.w || !view.h) {
        // No size from the server: take it from the first image once it has loaded.
        var img = stage.querySelector("img");
        var measure = function () {
          if (img.naturalWidth) { view.w = img.naturalWidth; view.h = img.naturalHeight; apply(); }
        };
        if (img.complete) measure(); else img.addEventListener("load", measure);
      }
      return view;
    });

    function visible(view) { return view.w > 0 && view.h > 0 && view.el.clientWidth > 0; }

    // Where the stage of one view goes for the shared state: scale s, offset tx/ty in px.
    function metrics(view) {
      var vw = view.el.clientWidth, vh = view.el.clientHeight;
      var fit = Math.min(vw / view.w, vh / view.h);
      var s = fit * state.zoom;
      return { vw: vw, vh: vh, s: s, tx: vw / 2 - state.cx * view.w * s, ty: vh / 2 - state.cy * view.h * s };
    }

    // Keep the centre where the image still fills the view; centred while it fits.
    function clampCentre(reference) {
      var view = reference || views.filter(visible)[0];
      if (!view) return;
      var m = metrics(view);
      var hw = m.vw / (2 * view.w * m.s), hh = m.vh / (2 * view.h * m.s);
      state.cx = hw >= 0.5 ? 0.5 : clamp(state.cx, hw, 1 - hw);
      state.cy = hh >= 0.5 ? 0.5 : clamp(state.cy, hh, 1 - hh);
    }

    function apply() {
      views.forEach(function (view) {
        if (!visible(view)) return;
        var m = metrics(view);
        view.stage.style.width = view.w + "px";
        view.stage.style.height = view.h + "px";
        view.stage.style.transform = "translate(" + m.tx.toFixed(2) + "px, " + m.ty.toFixed(2) + "px) scale(" + m.s.toFixed(5) + ")";
        // Outline strokes stay about 2 px on screen at every zoom.
        view.stage.style.setProperty("--outline-width", (2.5 / m.s).toFixed(3) + "px");
        if (view.el.getAttribute("data-mode-view") === "swipe") {
          var later = view.stage.querySelector("[data-swipe-later]");
          if (later) later.style.clipPath = "inset(0 0 0 " + state.swipe + "%)";
          var divider = view.el.querySelector("[data-swipe-divider]");
          if (divider) divider.style.transform = "translateX(" + clamp(m.tx + state.swipe / 100 * view.w * m.s, 0, m.vw).toFixed(1) + "px)";
        }
      });
      var z = Math.round(state.zoom * 100) / 100;
      root.setAttribute("data-zoom", String(z));
      if (zoomLevel) zoomLevel.textContent = Math.round(state.zoom * 100) + " %";
    }

    // Zoom to `zoom`, keeping the image point under (px, py) of `view` where it is.
    function zoomAt(view, px, py, zoom) {
      zoom = clamp(zoom, MIN_ZOOM, MAX_ZOOM);
      if (!view || !visible(view)) { state.zoom = zoom; clampCentre(); apply(); return; }
      var m = metrics(view);
      var u = (px - m.tx) / (view.w * m.s), v = (py - m.ty) / (view.h * m.s);
      state.zoom = zoom;
      var s2 = Math.min(m.vw / view.w, m.vh / view.h) * zoom;
      state.cx = u - (px - m.vw / 2) / (view.w * s2);
      state.cy = v - (py - m.vh / 2) / (view.h * s2);
      clampCentre(view);
      apply();
    }

    function zoomCentre(factor, view) {
      view = view || views.filter(visible)[0];
      var zoom = state.zoom * factor;
      if (view) zoomAt(view, view.el.clientWidth / 2, view.el.clientHeight / 2, zoom);
      else zoomAt(null, 0, 0, zoom);
      announce("Zoom " + Math.round(state.zoom * 100) + " %");
    }

    function panBy(view, dx, dy) {  // dx, dy in screen px: the image follows the pointer
      var m = metrics(view);
      state.cx -= dx / (view.w * m.s);
      state.cy -= dy / (view.h * m.s);
      clampCentre(view);
      apply();
    }

    function reset() {
      state.zoom = 1; state.cx = 0.5; state.cy = 0.5;
      apply();
      announce("Zoom reset to fit");
    }

    function setSwipe(percent, fromRange) {
      state.swipe = clamp(Math.round(percent), 0, 100);
      if (swipeRange && !fromRange) swipeRange.value = String(state.swipe);
      if (swipeRange) swipeRange.setAttribute("aria-valuetext", state.swipe + " % across: earlier visit on the left, later on the right");
      apply();
    }

    function bindView(view) {
      var el = view.el;
      el.tabIndex = 0;
      var pointers = new Map();
      var gesture = null;  // "pan" | "swipe" | "pinch"
      var last = null;     // pan: {x, y}; pinch: {dist, mx, my}

      function local(event) {
        var rect = el.getBoundingClientRect();
        return { x: event.clientX - rect.left, y: event.clientY - rect.top };
      }
      function pinchInfo() {
        var pts = Array.from(pointers.values());
        return { dist: Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y) || 1, mx: (pts[0].x + pts[1].x) / 2, my: (pts[0].y + pts[1].y) / 2 };
      }
      function swipeTo(point) {
        var m = metrics(view);
        setSwipe((point.x - m.tx) / (view.w * m.s) * 100, false);
      }

      el.addEventListener("wheel", function (event) {
        if (!visible(view)) return;
        event.preventDefault();
        var delta = event.deltaY * (event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1);
        var p = local(event);
        zoomAt(view, p.x, p.y, state.zoom * Math.exp(-delta * 0.0015));
      }, { passive: false });

      el.addEventListener("pointerdown", function (event) {
        if (event.pointerType === "mouse" && event.button !== 0) return;
        try { el.setPointerCapture(event.pointerId); } catch (error) { /* synthetic or already released */ }
        var p = local(event);
        pointers.set(event.pointerId, p);
        if (pointers.size === 2) {
          gesture = "pinch"; last = pinchInfo();
        } else if (pointers.size === 1) {
          gesture = event.target.closest && event.target.closest("[data-swipe-divider]") ? "swipe" : "pan";
          last = p;
          if (gesture === "swipe") swipeTo(p);
        }
        el.classList.add("is-dragging");
        el.focus({ preventScroll: true });
        event.preventDefault();
      });

      el.addEventListener("pointermove", function (event) {
        if (!pointers.has(event.pointerId)) return;
        var p = local(event);
        pointers.set(event.pointerId, p);
        if (gesture === "pinch" && pointers.size >= 2) {
          var now = pinchInfo();
          zoomAt(view, now.mx, now.my, state.zoom * now.dist / last.dist);
          panBy(view, now.mx - last.mx, now.my - last.my);
          last = now;
        } else if (gesture === "swipe") {
          swipeTo(p);
        } else if (gesture === "pan") {
          panBy(view, p.x - last.x, p.y - last.y);
          last = p;
        }
      });

      function end(event) {
        if (!pointers.has(event.pointerId)) return;
        pointers.delete(event.pointerId);
        if (pointers.size === 1) { gesture = "pan"; last = Array.from(pointers.values())[0]; }
        if (pointers.size === 0) {
          gesture = null; last = null; el.classList.remove("is-dragging");
          if (state.mode === "swipe" && view.el.getAttribute("data-mode-view") === "swipe") announce("Swipe position " + state.swipe + " %");
        }
      }
      el.addEventListener("pointerup", end);
      el.addEventListener("pointercancel", end);

      el.addEventListener("keydown", function (event) {
        if (event.ctrlKey || event.metaKey || event.altKey) return;
        var m = metrics(view);
        switch (event.key) {
          case "+": case "=": case "Add": zoomCentre(ZOOM_STEP, view); break;
          case "-": case "_": case "Subtract": zoomCentre(1 / ZOOM_STEP, view); break;
          case "0": reset(); break;
          case "ArrowLeft": panBy(view, m.vw * PAN_STEP, 0); break;
          case "ArrowRight": panBy(view, -m.vw * PAN_STEP, 0); break;
          case "ArrowUp": panBy(view, 0, m.vh * PAN_STEP); break;
          case "ArrowDown": panBy(view, 0, -m.vh * PAN_STEP); break;
          default: return;
        }
        event.preventDefault();
      });
    }

    views.forEach(bindView);

    // Toolbar: zoom buttons.
    var zoomIn = root.querySelector("[data-zoom-in]");
    var zoomOut = root.querySelector("[data-zoom-out]");
    var zoomReset = root.querySelector("[data-zoom-reset]");
    if (zoomIn) zoomIn.addEventListener("click", function () { zoomCentre(ZOOM_STEP); });
    if (zoomOut) zoomOut.addEventListener("click", function () { zoomCentre(1 / ZOOM_STEP); });
    if (zoomReset) zoomReset.addEventListener("click", reset);

    // Per side: heatmap and outline toggles.
    root.querySelectorAll("[data-pane]").forEach(function (pane) {
      var which = pane.getAttribute("data-pane") === "later" ? "later visit" : "earlier visit";
      var heatmap = pane.querySelector("[data-heatmap-layer]");
      var outline = pane.querySelector("[data-outline-layer]");
      var heatButton = pane.querySelector("[data-toggle-heatmap]");
      var outlineButton = pane.querySelector("[data-toggle-outline]");
      setHidden(pane.querySelector("[data-pane-toggles]"), false);
      if (heatButton && heatmap) heatButton.addEventListener("click", function () {
        var on = heatButton.getAttribute("aria-pressed") !== "true";
        heatButton.setAttribute("aria-pressed", String(on));
        setHidden(heatmap, !on);
        announce((on ? "Heatmap shown" : "Heatmap hidden") + " on the " + which);
      });
      if (outlineButton && outline) outlineButton.addEventListener("click", function () {
        var on = outlineButton.getAttribute("aria-pressed") !== "true";
        outlineButton.setAttribute("aria-pressed", String(on));
        setHidden(outline, !on);
        announce((on ? "Lesion outline shown" : "Lesion outline hidden") + " on the " + which);
      });
    });

    // Blink.
    var blinkView = root.querySelector("[data-blink-shown]");
    function showBlink(which, say) {
      state.blinkShown = which;
      if (!blinkView) return;
      blinkView.setAttribute("data-blink-shown", which);
      setHidden(blinkView.querySelector('[data-blink-image="later"]'), which !== "later");
      var words = (which === "later" ? "Later" : "Earlier") + " · " + dates[which];
      var label = blinkView.querySelector("[data-blink-label]");
      if (label) label.textContent = words;
      if (blinkShownText) blinkShownText.textContent = "Showing the " + which + " visit, " + dates[which];
      if (say) announce("Showing the " + which + " visit, " + dates[which]);
    }
    function toggleBlink(say) { showBlink(state.blinkShown === "earlier" ? "later" : "earlier", say); }
    function stopAuto(say) {
      if (autoTimer === null) return;
      window.clearInterval(autoTimer);
      autoTimer = null;
      if (autoButton) autoButton.setAttribute("aria-pressed", "false");
      if (say) announce("Auto blink stopped. Showing the " + state.blinkShown + " visit, " + dates[state.blinkShown]);
    }
    function startAuto() {
      if (autoTimer !== null) return;
      if (autoButton) autoButton.setAttribute("aria-pressed", "true");
      // Each flip is not announced (every 600 ms would drown a screen reader); the label on
      // the image says which visit is shown, and stopping says where it stopped.
      announce("Auto blink on: any key or click stops it");
      autoTimer = window.setInterval(function () { toggleBlink(false); }, BLINK_MS);
    }
    var blinkToggle = root.querySelector("[data-blink-toggle]");
    if (blinkToggle) blinkToggle.addEventListener("click", function () { stopAuto(false); toggleBlink(true); });
    if (autoButton) autoButton.addEventListener("click", function () {
      if (autoTimer === null) startAuto(); else stopAuto(true);
    });
    // Any key or click stops auto blink (the auto button's own click toggles it instead).
    ["keydown", "pointerdown"].forEach(function (type) {
      document.addEventListener(type, function (event) {
        if (autoTimer === null) return;
        var onAutoButton = autoButton && autoButton.contains(event.target);
        if (onAutoButton && (type === "pointerdown" || event.key === "Enter" || event.key === " ")) return;
        if (type === "keydown" && (event.key === "Shift" || event.key === "Control" || event.key === "Alt" || event.key === "Meta")) return;
        stopAuto(true);
      }, true);
    });
    root.addEventListener("keydown", function (event) {
      if ((event.key !== "b" && event.key !== "B") || event.ctrlKey || event.metaKey || event.altKey) return;
      if (state.mode !== "blink" || isTextField(event.target)) return;
      event.preventDefault();
      toggleBlink(true);
    });

    // Swipe range.
    if (swipeRange) swipeRange.addEventListener("input", function () { setSwipe(Number(swipeRange.value), true); });
    if (swipeRange) swipeRange.addEventListener("change", function () { announce("Swipe position " + state.swipe + " %"); });

    // Modes.
    var modeButtons = root.querySelectorAll("[data-mode-button]");
    var modeNames = { side: "Side by side", swipe: "Swipe: drag the divider, or use the Swipe position slider", blink: "Blink: press B or Switch visit", difference: "Difference map" };
    function setMode(mode, say) {
      if (!overlay && mode !== "side") mode = "side";
      if (mode !== "blink") stopAuto(false);
      state.mode = mode;
      root.setAttribute("data-mode", mode);
      modeButtons.forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.getAttribute("data-mode-button") === mode));
      });
      root.querySelectorAll("[data-mode-controls]").forEach(function (group) {
        setHidden(group, group.getAttribute("data-mode-controls") !== mode);
      });
      setHidden(overlay, mode === "side");
      if (overlay) overlay.querySelectorAll("[data-mode-view]").forEach(function (view) {
        setHidden(view, view.getAttribute("data-mode-view") !== mode);
      });
      root.querySelectorAll("[data-pane] [data-viewport]").forEach(function (view) { setHidden(view, mode !== "side"); });
      root.querySelectorAll("[data-pane-toggles]").forEach(function (group) { setHidden(group, mode !== "side"); });
      if (mode === "blink") showBlink(state.blinkShown, false);
      apply();
      if (say) announce(modeNames[mode] + (mode === "blink" ? ". Showing the " + state.blinkShown + " visit, " + dates[state.blinkShown] : ""));
    }
    modeButtons.forEach(function (button) {
      button.addEventListener("click", function () { setMode(button.getAttribute("data-mode-button"), true); });
    });

    if (window.ResizeObserver) {
      var observer = new ResizeObserver(function () { apply(); });
      views.forEach(function (view) { observer.observe(view.el); });
    } else {
      window.addEventListener("resize", apply);
    }

    // Every viewport takes the earlier image's shape (CSS caps its height), so that the two
    // panes line up and the overlay views, drawn in the earlier image's frame, fill theirs.
    var shape = views.filter(function (view) { return view.w && view.h; })[0];
    if (shape && "aspectRatio" in document.documentElement.style) {
      views.forEach(function (view) { view.el.style.aspectRatio = shape.w + " / " + shape.h; });
    }
    root.classList.add("is-enhanced");
    setHidden(root.querySelector("[data-compare-toolbar]"), false);
    setHidden(root.querySelector("[data-compare-keys]"), false);
    setMode("side", false);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-compare]").forEach(init);
  });
})();
