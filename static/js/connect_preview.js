/* Settings → Connect pages: the preview iframe follows the form's unsaved name, colour and
   theme (the server ignores values that are not valid). */
(function () {
  "use strict";
  var form = document.getElementById("branding-form");
  if (!form) { return; }
  var frame = document.getElementById(form.dataset.previewFrame);
  var timer = null;
  function refresh() {
    var params = new URLSearchParams();
    ["display_name", "primary_color", "theme"].forEach(function (name) {
      var field = form.elements[name];
      if (field && field.value) { params.set(name, field.value); }
    });
    frame.src = frame.dataset.src + "?" + params.toString();
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  form.addEventListener("change", refresh);
})();
