// The image page's analysis panel: polls while a prediction is queued or running, and drives
// the heatmap's opacity slider and class picker. Without JavaScript the page still works
// (reload to see a result; the class picker submits a form).
(function () {
  "use strict";

  function bindHeatmap(root) {
    var layer = root.querySelector("#heatmap-layer");
    if (!layer) return;
    var slider = root.querySelector("[data-heatmap-opacity]");
    if (slider) {
      var apply = function () { layer.style.opacity = slider.value; };
      slider.addEventListener("input", apply);
      apply();
    }
    root.querySelectorAll("[data-heatmap-class]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        var url = layer.getAttribute("data-heatmap-url");
        layer.src = url + "?class=" + encodeURIComponent(radio.value) + "&opacity=1";
        layer.alt = "Grad-CAM heatmap for " + radio.value + ": red marks the regions that raised this class's score most";
        var caption = root.querySelector(".heatmap-frame figcaption strong");
        if (caption) caption.textContent = radio.parentNode.textContent.trim();
      });
    });
  }

  function poll(panel) {
    var url = panel.getAttribute("data-poll-url");
    if (!url) return;
    var delay = 1000;
    var started = Date.now();
    var tick = function () {
      if (Date.now() - started > 10 * 60 * 1000) return;  // give up after 10 minutes; a reload resumes
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (data) {
          if (data.finished) {
            var holder = document.createElement("div");
            holder.innerHTML = data.html;
            var fresh = holder.firstElementChild;
            panel.replaceWith(fresh);
            bindHeatmap(fresh);
            var status = document.getElementById("analysis-status");
            if (status) status.textContent = "Analysis " + data.status + ".";
          } else {
            delay = Math.min(delay * 1.5, 5000);
            window.setTimeout(tick, delay);
          }
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    };
    window.setTimeout(tick, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("analysis");
    if (!panel) return;
    bindHeatmap(panel);
    poll(panel);
  });
})();
