// The draw-a-digit page: strokes on the canvas, sent (debounced) to POST /api/read with any
// uploaded photo; shows the prediction, ten bars and the server's reading figure.
"use strict";

const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 150;   // while drawing: read once the pen rests this long
// What the page last sent and got: tests compare it with predict.py's answer for that image.
const page = window.digitPage = { lastSent: null, last: null, sent: 0, shown: 0 };

function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}

// Drawing: pointer events cover mouse, pen and finger alike.
let drawing = false, last = null;
let timer = null;   // a reading scheduled (debounced), not yet sent
ctx.lineCap = ctx.lineJoin = "round";

function point(e) {
  const box = canvas.getBoundingClientRect();
  return { x: (e.clientX - box.left) * canvas.width / box.width,
           y: (e.clientY - box.top) * canvas.height / box.height };
}
function stroke(from, to) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 20;
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
}
function readSoon(delay) {
  clearTimeout(timer);
  document.body.dataset.state = "busy";   // a reading is on its way
  timer = setTimeout(() => { timer = null; readCanvas(); }, delay);
}
canvas.addEventListener("pointerdown", (e) => {
  canvas.setPointerCapture(e.pointerId);
  drawing = true;
  last = point(e);
  stroke(last, last);   // a tap is a dot
  readSoon(DEBOUNCE_MS);
});
canvas.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const each of events.length ? events : [e]) {
    const p = point(each);
    stroke(last, p);
    last = p;
  }
  readSoon(DEBOUNCE_MS);
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => {
    if (drawing) readSoon(0);
    drawing = false;
  });
}

function readCanvas() {
  // the PNG made at once (not toBlob's callback), so that the request counts as sent now
  page.lastSent = canvas.toDataURL("image/png");
  const bytes = Uint8Array.from(atob(page.lastSent.split(",")[1]), (c) => c.charCodeAt(0));
  send(new Blob([bytes], { type: "image/png" }), "the drawing");
}

async function send(blob, name) {
  const id = ++page.sent;
  document.body.dataset.state = "busy";
  const form = new FormData();
  form.append("image", blob, name);
  let status = 0, body = null;
  try {
    const response = await fetch("api/read", { method: "POST", body: form });
    status = response.status;
    body = await response.json();
  } catch (err) {
    body = { error: `no answer from the server (${err.message}); is serve.py running?` };
  }
  if (id < page.shown) return;   // an older answer arriving late
  page.shown = id;
  page.last = Object.assign({ status: status }, body);
  if (body.error) showError(body.error);
  else show(body);
  if (id === page.sent && timer === null) {   // nothing newer sent or about to be
    document.body.dataset.state = body.error ? "error" : "ready";
  }
}

function showError(message) {
  $("message").textContent = message;
  $("message").hidden = false;
  $("prediction").textContent = "-";
  $("bars").replaceChildren();
  $("figure").removeAttribute("src");
  $("timing").textContent = "";
}

function show(answer) {
  $("message").hidden = true;
  $("prediction").textContent = answer.prediction;
  const rows = answer.probabilities.map((p, digit) => {
    const li = document.createElement("li");
    if (digit === answer.prediction) li.className = "best";
    li.innerHTML = `<span class="digit">${digit}</span><span class="bar"></span>` +
                   `<span class="value">${p.toFixed(3)}</span>`;
    li.querySelector(".bar").style.width = `${Math.round(p * 140)}px`;
    return li;
  });
  $("bars").replaceChildren(...rows);
  $("figure").src = answer.figure;
  const ms = answer.server_ms;
  $("timing").textContent = `server: image ${ms.image.toFixed(0)} ms, model ` +
    `${ms.model.toFixed(0)} ms, figure ${ms.figure.toFixed(0)} ms`;
}

$("clear").addEventListener("click", () => {
  clearTimeout(timer);
  timer = null;
  clearCanvas();
  page.shown = ++page.sent;   // drop answers still on their way
  $("message").hidden = true;
  $("prediction").textContent = "-";
  $("bars").replaceChildren();
  $("figure").removeAttribute("src");
  document.body.dataset.state = "ready";
});
$("read").addEventListener("click", readCanvas);
$("upload").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (!file) return;
  page.lastSent = null;   // not the canvas
  send(file, file.name);
  e.target.value = "";    // the same file again is a new upload
});

async function describeModel() {
  try {
    const model = await (await fetch("api/model")).json();
    const accuracy = model.accuracy === null ? "accuracy not measured (unfinished run)" :
      `accuracy ${model.accuracy.toFixed(4)} on all ${model.test_images} test images`;
    $("model").textContent = `Model: run ${model.run}, step ${model.step} of ` +
      `${model.training_steps}, ${accuracy}`;
    if (model.note) {
      $("note").textContent = `This run is bidirectional: ${model.note}. The strip is hidden.`;
      $("note").hidden = false;
    }
    document.body.dataset.state = "ready";
  } catch (err) {
    $("model").textContent = `the server did not answer (${err.message}); start python serve.py`;
    document.body.dataset.state = "error";
  }
}

clearCanvas();
describeModel();
