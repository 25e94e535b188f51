// The export form: choosing another type shows that type's fields (the page reloads with it).
// Without this script, the "Show the fields of the chosen type" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("export-form");
  if (!form) { return; }
  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.name === "type") {
      window.location.assign("/console/data?type=" + encodeURIComponent(target.value) + "#export");
    }
    if (target && target.id === "preset") {
      var custom = target.value === "custom";
      document.getElementById("start").required = false;
      if (!custom) { document.getElementById("start").value = ""; document.getElementById("end").value = ""; }
    }
  });
})();
