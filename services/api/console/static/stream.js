/* Vigil console: the incident stream (Server-Sent Events) read with fetch.
 *
 * The browser's EventSource cannot send an Authorization header, and the API key must never
 * travel in a URL (proxy logs), so the stream is read with fetch and parsed here. On a drop
 * it reconnects after a pause with Last-Event-ID, and the API replays what was missed.
 */
"use strict";

(function () {
  class IncidentStream {
    constructor(key, onEvent, onState) {
      this.key = key;
      this.onEvent = onEvent;
      this.onState = onState;
      this.lastId = null;
      this.stopped = false;
      this.controller = null;
      this.retryMs = 3000;
    }

    start() { this.loop(); }

    stop() {
      this.stopped = true;
      if (this.controller) this.controller.abort();
    }

    async loop() {
      while (!this.stopped) {
        try {
          await this.once();
        } catch (err) {
          if (this.stopped) return;
        }
        this.onState(false);
        if (this.stopped) return;
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      }
    }

    async once() {
      this.controller = new AbortController();
      const headers = { Authorization: "Bearer " + this.key, Accept: "text/event-stream" };
      if (this.lastId) headers["Last-Event-ID"] = this.lastId;
      const response = await fetch("/api/v1/incidents/stream", {
        headers, signal: this.controller.signal, cache: "no-store",
      });
      if (response.status === 401) { this.stopped = true; this.onEvent({ type: "unauthorized" }); return; }
      if (!response.ok || !response.body) throw new Error("stream answered " + response.status);
      this.onState(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          this.dispatch(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    }

    dispatch(block) {
      let event = "message", id = null, retry = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id") id = value;
        else if (field === "retry") retry = parseInt(value, 10);
      }
      if (retry && retry > 0) this.retryMs = retry;
      if (id) this.lastId = id;
      if (!data.length) return;
      try {
        this.onEvent({ type: event, data: JSON.parse(data.join("\n")) });
      } catch (err) {
        /* not JSON: not one of ours, ignore */
      }
    }
  }

  window.VigilStream = IncidentStream;
})();
