// Poll a batch run's counters and update the progress panel until it ends;
// then reload once so the page shows the refused rows and the finish time.
(function () {
  "use strict";
  var panel = document.getElementById("batch-progress");
  if (!panel || panel.dataset.running !== "true") {
    return;
  }
  var url = panel.dataset.progressUrl;
  var bar = document.getElementById("batch-progress-bar");
  var fields = ["total", "processed", "accepted", "refused"];

  function show(progress) {
    bar.max = progress.total || 1;
    bar.value = progress.processed;
    bar.textContent = progress.percent + "%";
    document.getElementById("batch-percent").textContent = progress.percent + "%";
    var status = document.getElementById("batch-status");
    status.textContent = progress.status_label;
    status.dataset.status = progress.status;
    fields.forEach(function (name) {
      document.getElementById("batch-" + name).textContent = progress[name];
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.running) {
          window.setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();
