"use strict";
// Shared by the live page (index.html) and the collect page (collect.html): element lookup, the connection
// badge, state updates by Server-Sent Events with polling as the fallback, and a stream that reconnects.
const $ = (id) => document.getElementById(id);

function showLink(text, live) {
  $("link").textContent = text;
  $("link").className = live ? "live" : "";
}

// Polling /state is the fallback when Server-Sent Events do not get through (some proxies buffer them).
function poll(render) {
  fetch("/state", { cache: "no-store" })
    .then((response) => response.json())
    .then((state) => { render(state); showLink("live (polling)", true); setTimeout(() => poll(render), 500); })
    .catch(() => { showLink("disconnected", false); setTimeout(() => poll(render), 2000); });
}

function listen(render) {
  if (!window.EventSource) { poll(render); return; }
  const events = new EventSource("/events");
  events.onmessage = (message) => { render(JSON.parse(message.data)); showLink("live", true); };
  events.onerror = () => { events.close(); poll(render); };
}

// The stream ends when the server stops; try again so a restarted pipeline shows up without a reload.
function connect(render) {
  $("stream").addEventListener("error", () => {
    setTimeout(() => { $("stream").src = `/stream.mjpg?t=${Date.now()}`; }, 1000);
  });
  listen(render);
}
