// The language menu of the admin, the console and the operations dashboard
// switches as soon as a language is chosen (a static file: the pages'
// Content-Security-Policy runs no inline script or handler).
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("language-select");
  if (select && select.form) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  }
});
