// The console's only script: it uploads a file straight to the bucket
// through the URL the console presigns, then follows the import; and it
// moves the progress bars of running imports (server-sent events).
"use strict";

function csrf() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

async function upload(form) {
  const status = document.getElementById("upload-status");
  const file = form.elements.file.files[0];
  if (!file) return;
  const fields = new FormData(form);
  fields.set("file", file.name);
  status.textContent = "Uploading " + file.name + "…";
  try {
    const signed = await fetch(form.action, {method: "POST", body: new URLSearchParams(fields),
      headers: {"X-CSRF-Token": csrf()}, credentials: "same-origin"});
    if (!signed.ok) throw new Error(await signed.text());
    const put = await signed.json();
    const sent = await fetch(put.url, {method: "PUT", body: file, headers: put.headers});
    if (!sent.ok) throw new Error("the bucket answered " + sent.status);
    status.textContent = "Uploaded. Waiting for the import to start…";
    location.assign("/imports/follow?key=" + encodeURIComponent(put.key) + "&since=" + encodeURIComponent(put.since));
  } catch (e) {
    status.textContent = "The upload failed: " + e.message;
  }
}

// follow moves the page's progress bars, from one stream of events for
// all of them. When an import ends, the list puts its row, as the server
// renders it, in place of the running one, so that the list does not jump
// nor lose the focus while others run; the import's own page is loaded
// again, to show its results.
function follow(bars) {
  const url = "/progress?" + bars.map((b) => "id=" + encodeURIComponent(b.dataset.id)).join("&");
  const events = new EventSource(url);
  events.onmessage = (e) => {
    let reload = false;
    for (const p of JSON.parse(e.data)) {
      const bar = document.getElementById("p-" + p.id);
      if (!bar) continue;
      if (p.final) {
        const row = bar.closest("tr");
        if (row && p.row) row.outerHTML = p.row;
        else reload = true;
        continue;
      }
      if (p.rows > 0) { bar.max = p.rows; bar.value = p.done; }
      const label = document.getElementById("p-" + p.id + "-label");
      if (label) label.textContent = p.status + (p.rows > 0 ? " · " + p.done + " of " + p.rows + " rows" : "");
    }
    // The server ends the stream once every import has ended; closed
    // here, it is not opened again.
    if (reload || !document.querySelector("progress[data-id]")) events.close();
    if (reload) location.reload();
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-upload]");
  if (form) form.addEventListener("submit", (e) => { e.preventDefault(); upload(form); });
  const bars = [...document.querySelectorAll("progress[data-id]")];
  if (bars.length > 0) follow(bars);
});
