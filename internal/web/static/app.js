// The dashboard's only script: "select all" for the bulk change of the violation list.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("all");
  if (!all) return;
  all.addEventListener("change", function () {
    document.querySelectorAll("input.pick").forEach(function (box) { box.checked = all.checked; });
  });
});
