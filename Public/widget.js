/*!
 * Parley widget — drop-in AI chat for your page.
 *
 *   <script src="https://parley.example.com/widget.js" data-token-url="/parley-token" async></script>
 *
 * Plain JavaScript, no dependencies, no build step. Everything lives in a Shadow DOM with
 * constructable stylesheets, so host CSS cannot break it and it runs under a CSP without
 * 'unsafe-inline' or 'unsafe-eval'. Model text is rendered by building DOM nodes, never innerHTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var ORIGIN = script ? new URL(script.src, location.href).origin : location.origin;

  // ---------------------------------------------------------------------------------------------
  // Strings

  var STRINGS = {
    en: { open: "Open chat", close: "Close chat", title: "Chat", placeholder: "Write a message…", send: "Send", stop: "Stop",
      newChat: "New conversation", history: "Conversations", back: "Back", copy: "Copy", copied: "Copied",
      empty: "No conversations yet.", error: "Something went wrong.", retry: "Try again", untitled: "New conversation",
      thinking: "Thinking…", cancelled: "Stopped.", expired: "Your session has expired." },
    de: { open: "Chat öffnen", close: "Chat schließen", title: "Chat", placeholder: "Nachricht schreiben…", send: "Senden", stop: "Stopp",
      newChat: "Neues Gespräch", history: "Gespräche", back: "Zurück", copy: "Kopieren", copied: "Kopiert",
      empty: "Noch keine Gespräche.", error: "Etwas ist schiefgelaufen.", retry: "Erneut versuchen", untitled: "Neues Gespräch",
      thinking: "Denkt nach…", cancelled: "Angehalten.", expired: "Deine Sitzung ist abgelaufen." },
    fr: { open: "Ouvrir le chat", close: "Fermer le chat", title: "Chat", placeholder: "Écrivez un message…", send: "Envoyer", stop: "Arrêter",
      newChat: "Nouvelle conversation", history: "Conversations", back: "Retour", copy: "Copier", copied: "Copié",
      empty: "Aucune conversation.", error: "Une erreur est survenue.", retry: "Réessayer", untitled: "Nouvelle conversation",
      thinking: "Réflexion…", cancelled: "Arrêté.", expired: "Votre session a expiré." },
    es: { open: "Abrir chat", close: "Cerrar chat", title: "Chat", placeholder: "Escribe un mensaje…", send: "Enviar", stop: "Detener",
      newChat: "Nueva conversación", history: "Conversaciones", back: "Volver", copy: "Copiar", copied: "Copiado",
      empty: "Aún no hay conversaciones.", error: "Algo salió mal.", retry: "Reintentar", untitled: "Nueva conversación",
      thinking: "Pensando…", cancelled: "Detenido.", expired: "Tu sesión ha caducado." },
    ja: { open: "チャットを開く", close: "チャットを閉じる", title: "チャット", placeholder: "メッセージを入力…", send: "送信", stop: "停止",
      newChat: "新しい会話", history: "会話", back: "戻る", copy: "コピー", copied: "コピーしました",
      empty: "まだ会話はありません。", error: "問題が発生しました。", retry: "再試行", untitled: "新しい会話",
      thinking: "考え中…", cancelled: "停止しました。", expired: "セッションの有効期限が切れました。" },
    ar: { open: "افتح المحادثة", close: "أغلق المحادثة", title: "محادثة", placeholder: "اكتب رسالة…", send: "إرسال", stop: "إيقاف",
      newChat: "محادثة جديدة", history: "المحادثات", back: "رجوع", copy: "نسخ", copied: "تم النسخ",
      empty: "لا توجد محادثات بعد.", error: "حدث خطأ ما.", retry: "حاول مجددًا", untitled: "محادثة جديدة",
      thinking: "يفكر…", cancelled: "توقف.", expired: "انتهت صلاحية جلستك." }
  };

  function pickLocale(requested) {
    var candidates = [requested].concat(navigator.languages || [navigator.language || "en"]);
    for (var i = 0; i < candidates.length; i++) {
      var code = String(candidates[i] || "").toLowerCase().split("-")[0];
      if (STRINGS[code]) return code;
    }
    return "en";
  }

  // ---------------------------------------------------------------------------------------------
  // Safe Markdown: a small block and inline parser that builds DOM nodes. Model text never
  // becomes HTML; links are limited to http(s) and mailto; images are shown as their alt text.

  var SAFE_PROTOCOLS = ["http:", "https:", "mailto:"];

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    if (attributes) for (var key in attributes) node.setAttribute(key, attributes[key]);
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeHref(raw) {
    try {
      var url = new URL(raw, "https://invalid.example/");
      if (SAFE_PROTOCOLS.indexOf(url.protocol) < 0) return null;
      if (url.origin === "https://invalid.example" && url.protocol !== "mailto:") return null; // relative links
      return url.href;
    } catch (error) {
      return null;
    }
  }

  function renderInline(text, parent) {
    var pattern = /(`+)([\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(([^)\s]*)[^)]*\)|\[([^\]]+)\]\(([^)\s]+)[^)]*\)|\*\*([\s\S]+?)\*\*|(?<!\w)__([\s\S]+?)__(?!\w)|\*([^*\s][^*]*?)\*|(?<!\w)_([^_\s][^_]*?)_(?!\w)|~~([\s\S]+?)~~|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/;
    var rest = text;
    while (rest.length) {
      var match = pattern.exec(rest);
      if (!match) { parent.appendChild(document.createTextNode(rest)); break; }
      if (match.index > 0) parent.appendChild(document.createTextNode(rest.slice(0, match.index)));
      if (match[1]) {
        parent.appendChild(el("code", null, [match[2].replace(/^ (.*) $/, "$1")]));
      } else if (match[3] !== undefined) {
        parent.appendChild(document.createTextNode(match[3] ? "[" + match[3] + "]" : ""));
      } else if (match[5]) {
        var href = safeHref(match[6]);
        if (href) {
          var link = el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow" });
          renderInline(match[5], link);
          parent.appendChild(link);
        } else {
          renderInline(match[5], parent);
        }
      } else if (match[7] || match[8]) {
        var strong = el("strong");
        renderInline(match[7] || match[8], strong);
        parent.appendChild(strong);
      } else if (match[9] || match[10]) {
        var em = el("em");
        renderInline(match[9] || match[10], em);
        parent.appendChild(em);
      } else if (match[11]) {
        var del = el("del");
        renderInline(match[11], del);
        parent.appendChild(del);
      } else if (match[12]) {
        var bare = safeHref(match[12]);
        parent.appendChild(bare ? el("a", { href: bare, target: "_blank", rel: "noopener noreferrer nofollow" }, [match[12]]) : document.createTextNode(match[12]));
      }
      rest = rest.slice(match.index + match[0].length);
    }
    return parent;
  }

  function splitRow(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map(function (cell) { return cell.trim(); });
  }

  function renderMarkdown(source, strings) {
    var root = document.createDocumentFragment();
    var lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    var paragraph = [];

    function flushParagraph() {
      if (!paragraph.length) return;
      var p = el("p");
      paragraph.forEach(function (line, index) {
        if (index) p.appendChild(el("br"));
        renderInline(line, p);
      });
      root.appendChild(p);
      paragraph = [];
    }

    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line);
      if (fence) {
        flushParagraph();
        var code = [];
        i++;
        while (i < lines.length && lines[i].trim().indexOf(fence[1]) !== 0) code.push(lines[i++]);
        i++;
        root.appendChild(codeBlock(code.join("\n"), fence[2], strings));
        continue;
      }
      var heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        flushParagraph();
        root.appendChild(renderInline(heading[2].replace(/\s+#+\s*$/, ""), el("h" + Math.min(6, heading[1].length + 2))));
        i++;
        continue;
      }
      if (/^\s*>/.test(line)) {
        flushParagraph();
        var quoted = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*> ?/, ""));
        var quote = el("blockquote");
        quote.appendChild(renderMarkdown(quoted.join("\n"), strings));
        root.appendChild(quote);
        continue;
      }
      if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
        flushParagraph();
        var ordered = /^\s*\d/.test(line);
        var list = el(ordered ? "ol" : "ul");
        while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
          list.appendChild(renderInline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""), el("li")));
          i++;
        }
        root.appendChild(list);
        continue;
      }
      if (/\|/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(lines[i + 1])) {
        flushParagraph();
        var table = el("table");
        var head = el("tr");
        splitRow(line).forEach(function (cell) { head.appendChild(renderInline(cell, el("th", { scope: "col" }))); });
        table.appendChild(el("thead", null, [head]));
        var body = el("tbody");
        i += 2;
        while (i < lines.length && /\|/.test(lines[i]) && lines[i].trim()) {
          var row = el("tr");
          splitRow(lines[i]).forEach(function (cell) { row.appendChild(renderInline(cell, el("td"))); });
          body.appendChild(row);
          i++;
        }
        table.appendChild(body);
        root.appendChild(el("div", { class: "table" }, [table]));
        continue;
      }
      if (!line.trim()) { flushParagraph(); i++; continue; }
      paragraph.push(line);
      i++;
    }
    flushParagraph();
    return root;
  }

  function codeBlock(text, language, strings) {
    var copy = el("button", { type: "button", class: "copy", "aria-label": strings.copy }, [strings.copy]);
    copy.addEventListener("click", function () {
      var done = function () { copy.textContent = strings.copied; setTimeout(function () { copy.textContent = strings.copy; }, 1500); };
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, function () {});
    });
    var pre = el("pre", null, [el("code", language ? { "data-language": language } : null, [text])]);
    return el("div", { class: "code" }, [copy, pre]);
  }

  // ---------------------------------------------------------------------------------------------
  // Server-Sent Events over fetch (EventSource cannot send an Authorization header).

  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function dispatch(block) {
      var event = { event: "message", data: [], id: null };
      block.split(/\r\n|\r|\n/).forEach(function (line) {
        if (!line || line[0] === ":") return;
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = value;
        else if (field === "data") event.data.push(value);
        else if (field === "id") event.id = value;
      });
      if (event.data.length) onEvent(event.event, JSON.parse(event.data.join("\n")), event.id);
    }
    function pump() {
      return reader.read().then(function (result) {
        if (result.done) return;
        buffer += decoder.decode(result.value, { stream: true });
        var parts = buffer.split(/\r\n\r\n|\n\n|\r\r/);
        buffer = parts.pop();
        parts.forEach(dispatch);
        return pump();
      });
    }
    return pump();
  }

  // ---------------------------------------------------------------------------------------------
  // Styles (adopted into the shadow root; no inline <style>, no style attributes from markup)

  var CSS = [
    ":host{all:initial;--parley-primary:#1f6feb;--parley-bg:#ffffff;--parley-text:#1b1f24;--parley-muted:#57606a;",
    "--parley-surface:#f1f3f5;--parley-border:#d0d7de;--parley-font:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;",
    "--parley-border-radius:16px;--parley-on-primary:#ffffff;--parley-focus:#0b57d0;color-scheme:light;",
    "font-family:var(--parley-font);color:var(--parley-text)}",
    ":host([data-theme=dark]){--parley-bg:#161b22;--parley-text:#e6edf3;--parley-muted:#9da7b3;--parley-surface:#21262d;",
    "--parley-border:#30363d;--parley-focus:#79c0ff;color-scheme:dark}",
    "*{box-sizing:border-box}button{-webkit-tap-highlight-color:transparent}",
    ".launcher{position:fixed;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:var(--parley-primary);",
    "color:var(--parley-on-primary);cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);display:grid;place-items:center;font-size:24px}",
    ".launcher svg{width:26px;height:26px;fill:currentColor}.launcher img{width:30px;height:30px;object-fit:contain}",
    ":host([data-position=bottom-right]) .launcher,:host([data-position=bottom-right]) .panel{right:20px}",
    ":host([data-position=bottom-left]) .launcher,:host([data-position=bottom-left]) .panel{left:20px}",
    ".panel{position:fixed;bottom:88px;width:380px;height:min(620px,calc(100vh - 120px));background:var(--parley-bg);",
    "border:1px solid var(--parley-border);border-radius:var(--parley-border-radius);box-shadow:0 12px 40px rgba(0,0,0,.25);",
    "display:flex;flex-direction:column;overflow:hidden}",
    ".panel[hidden]{display:none}",
    ":host([data-mode=inline]) .panel{position:static;width:100%;height:100%;min-height:360px;box-shadow:none}",
    ":host([data-mode=inline]){display:block;height:100%}",
    "header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--parley-primary);color:var(--parley-on-primary)}",
    "header h2{flex:1;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    "header button{background:transparent;border:0;color:inherit;cursor:pointer;padding:4px 8px;border-radius:8px;font:inherit;font-size:14px;line-height:1.2}",
    "header button:hover{background:rgba(255,255,255,.15)}",
    ".messages{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:var(--parley-bg)}",
    ".message{max-width:85%;padding:9px 13px;border-radius:14px;line-height:1.45;font-size:14px;overflow-wrap:anywhere}",
    ".message.user{align-self:flex-end;background:var(--parley-primary);color:var(--parley-on-primary);border-end-end-radius:4px;white-space:pre-wrap}",
    ".message.assistant{align-self:flex-start;background:var(--parley-surface);color:var(--parley-text);border-end-start-radius:4px}",
    ".message.failed{outline:1px solid #cf222e}",
    ".message .status{display:block;margin-top:6px;font-size:12px;color:var(--parley-muted)}",
    ".message p{margin:0 0 8px}.message p:last-child{margin-bottom:0}",
    ".message h3,.message h4,.message h5,.message h6{margin:10px 0 6px;font-size:15px}",
    ".message ul,.message ol{margin:4px 0 8px;padding-inline-start:22px}",
    ".message blockquote{margin:6px 0;padding-inline-start:10px;border-inline-start:3px solid var(--parley-border);color:var(--parley-muted)}",
    ".message code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;background:rgba(127,127,127,.15);padding:1px 4px;border-radius:4px}",
    ".message a{color:inherit;text-decoration:underline}",
    ".code{position:relative;margin:6px 0}",
    ".code pre{margin:0;padding:30px 10px 10px;overflow-x:auto;background:#0d1117;color:#e6edf3;border-radius:8px}",
    ".code pre code{background:none;padding:0;color:inherit}",
    ".code .copy{position:absolute;top:6px;inset-inline-end:6px;font-size:11px;padding:3px 8px;border-radius:6px;border:0;background:#30363d;color:#e6edf3;cursor:pointer}",
    ".table{overflow-x:auto}table{border-collapse:collapse;margin:6px 0;font-size:13px}",
    "th,td{border:1px solid var(--parley-border);padding:4px 8px;text-align:start}",
    ".composer{display:flex;gap:8px;padding:10px;border-top:1px solid var(--parley-border);background:var(--parley-bg)}",
    ".composer textarea{flex:1;resize:none;max-height:120px;min-height:40px;padding:9px 11px;font:inherit;font-size:14px;",
    "color:var(--parley-text);background:var(--parley-bg);border:1px solid var(--parley-border);border-radius:10px}",
    ".composer button{border:0;border-radius:10px;padding:0 14px;font:inherit;font-size:14px;font-weight:600;cursor:pointer;",
    "background:var(--parley-primary);color:var(--parley-on-primary)}",
    ".composer button:disabled{opacity:.5;cursor:default}",
    ".history{flex:1;overflow-y:auto;padding:8px;background:var(--parley-bg)}",
    ".history[hidden],.messages[hidden],.composer[hidden]{display:none}",
    ".history button{display:block;width:100%;text-align:start;padding:10px 12px;margin:0 0 4px;border:1px solid var(--parley-border);",
    "border-radius:10px;background:var(--parley-bg);color:var(--parley-text);font:inherit;font-size:14px;cursor:pointer}",
    ".history button small{display:block;color:var(--parley-muted);font-size:12px;margin-top:2px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    ".history p{color:var(--parley-muted);font-size:14px;padding:8px}",
    ":host([data-hide-header]) header{display:none}",
    ".notice{padding:10px 14px;font-size:13px;color:#cf222e;background:var(--parley-bg)}",
    ".notice[hidden]{display:none}",
    ":focus-visible{outline:3px solid var(--parley-focus);outline-offset:2px}header :focus-visible{outline-color:#ffffff}",
    ".visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){:host(:not([data-mode=inline])) .panel{inset:0;width:100%;height:100dvh;bottom:0;border-radius:0;border:0}}"
  ].join("");

  var ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";

  // ---------------------------------------------------------------------------------------------
  // The widget

  function Widget(options) {
    this.options = options;
    this.listeners = {};
    this.locale = pickLocale(options.locale);
    this.t = STRINGS[this.locale];
    this.token = options.token || null;
    this.tokenExpiresAt = 0;
    this.conversation = null;
    this.streaming = null;
    this.session = null;
    this.build();
  }

  Widget.prototype.on = function (name, handler) {
    (this.listeners[name] = this.listeners[name] || []).push(handler);
    return this;
  };

  Widget.prototype.emit = function (name, detail) {
    (this.listeners[name] || []).forEach(function (handler) { try { handler(detail); } catch (error) { console.error(error); } });
  };

  Widget.prototype.build = function () {
    var o = this.options, t = this.t, self = this;
    var inline = o.mode === "inline" && o.mount;
    this.host = document.createElement("parley-chat");
    this.host.setAttribute("data-mode", inline ? "inline" : "bubble");
    this.host.setAttribute("data-position", o.position === "bottom-left" ? "bottom-left" : "bottom-right");
    this.host.setAttribute("data-theme", o.theme === "dark" ? "dark" : "light");
    this.host.setAttribute("lang", this.locale);
    if (o.hideHeader) this.host.setAttribute("data-hide-header", "");
    this.host.setAttribute("dir", this.locale === "ar" ? "rtl" : "ltr");
    if (o.primaryColor && /^#[0-9a-f]{3,8}$/i.test(o.primaryColor)) this.host.style.setProperty("--parley-primary", o.primaryColor);
    if (!inline) this.host.style.setProperty("z-index", String(parseInt(o.zIndex, 10) || 9999));
    if (!inline) this.host.style.setProperty("position", "relative");
    var root = this.root = this.host.attachShadow({ mode: "open" });
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];

    this.launcher = el("button", { type: "button", class: "launcher", part: "launcher", "aria-label": t.open, "aria-expanded": "false" });
    var icon = o.launcherIcon && safeHref(o.launcherIcon);
    if (icon && /^https?:/.test(icon)) {
      // The customer's own image (their page's CSP decides whether it may load); never model text.
      this.launcher.appendChild(el("img", { src: icon, alt: "", "aria-hidden": "true" }));
    } else {
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("aria-hidden", "true");
      var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", ICON);
      svg.appendChild(path);
      this.launcher.appendChild(svg);
    }

    this.title = el("h2", { id: "parley-title" }, [t.title]);
    this.historyButton = el("button", { type: "button", "aria-label": t.history }, [t.history]);
    this.newButton = el("button", { type: "button", "aria-label": t.newChat, title: t.newChat }, ["+"]);
    this.closeButton = el("button", { type: "button", "aria-label": t.close, title: t.close }, ["\u00d7"]);
    var header = el("header", { part: "header" }, [this.title, this.historyButton, this.newButton]);
    if (!inline) header.appendChild(this.closeButton);

    this.notice = el("div", { class: "notice", role: "alert", hidden: "" });
    this.list = el("div", { class: "messages", role: "log", "aria-live": "polite", "aria-relevant": "additions text", "aria-labelledby": "parley-title" });
    this.history = el("div", { class: "history", hidden: "", role: "list" });
    this.input = el("textarea", { rows: "1", placeholder: t.placeholder, "aria-label": t.placeholder, enterkeyhint: "send" });
    this.sendButton = el("button", { type: "submit" }, [t.send]);
    this.form = el("form", { class: "composer", part: "composer" }, [this.input, this.sendButton]);
    this.panel = el("section", { class: "panel", part: "panel", role: "dialog", "aria-labelledby": "parley-title" },
      [header, this.notice, this.list, this.history, this.form]);
    if (!inline) this.panel.setAttribute("hidden", "");

    if (!inline) root.appendChild(this.launcher);
    root.appendChild(this.panel);
    (inline ? (typeof o.mount === "string" ? document.querySelector(o.mount) : o.mount) : document.body).appendChild(this.host);

    this.launcher.addEventListener("click", function () { self.isOpen() ? self.close() : self.open(); });
    this.closeButton.addEventListener("click", function () { self.close(); });
    this.newButton.addEventListener("click", function () { self.startNew(); });
    this.historyButton.addEventListener("click", function () { self.toggleHistory(); });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      // While a reply streams, the button is Stop; Enter in the composer never stops a reply.
      if (self.streaming) { if (event.submitter === self.sendButton) self.cancel(); return; }
      self.submit();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!self.streaming) self.submit();
      }
    });
    this.input.addEventListener("input", function () {
      self.input.style.setProperty("height", "auto");
      self.input.style.setProperty("height", Math.min(120, self.input.scrollHeight) + "px");
    });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !inline && self.isOpen()) { event.preventDefault(); self.close(); }
    });
    if (window.visualViewport && !inline) {
      this.onViewport = function () {
        var inset = Math.max(0, window.innerHeight - window.visualViewport.height - window.visualViewport.offsetTop);
        self.panel.style.setProperty("padding-bottom", window.innerWidth <= 480 ? inset + "px" : "0px");
      };
      window.visualViewport.addEventListener("resize", this.onViewport);
    }
    this.ready = this.start();
  };

  Widget.prototype.isOpen = function () { return !this.panel.hasAttribute("hidden"); };

  Widget.prototype.open = function () {
    this.panel.removeAttribute("hidden");
    this.list.scrollTop = this.list.scrollHeight;
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.setAttribute("aria-label", this.t.close);
    this.input.focus();
    this.emit("open");
  };

  Widget.prototype.close = function () {
    if (this.options.mode === "inline" && this.options.mount) return;
    this.panel.setAttribute("hidden", "");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-label", this.t.open);
    this.launcher.focus();
    this.emit("close");
  };

  Widget.prototype.destroy = function () {
    clearTimeout(this.refreshTimer);
    if (this.streaming) this.streaming.abort();
    if (this.onViewport) window.visualViewport.removeEventListener("resize", this.onViewport);
    this.host.remove();
    this.emit("destroy");
  };

  // Tokens --------------------------------------------------------------------------------------

  function tokenExpiry(token) {
    try {
      var payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return payload.exp * 1000;
    } catch (error) {
      return 0;
    }
  }

  Widget.prototype.fetchToken = function () {
    var self = this;
    if (!this.options.tokenUrl) return Promise.reject(new Error("token_expired"));
    var url = this.options.tokenUrl;
    // The page's backend decides the token; it is told which bot the page asked for.
    if (this.options.botId) url += (url.indexOf("?") < 0 ? "?" : "&") + "bot_id=" + encodeURIComponent(this.options.botId);
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("token URL answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        var token = body.token || body.embedToken || (body.data && body.data.token);
        if (!token) throw new Error("token URL sent no token");
        self.setToken(token);
        return token;
      });
  };

  Widget.prototype.setToken = function (token) {
    var self = this;
    this.token = token;
    this.tokenExpiresAt = tokenExpiry(token);
    clearTimeout(this.refreshTimer);
    if (this.options.tokenUrl && this.tokenExpiresAt) {
      var wait = Math.max(5000, this.tokenExpiresAt - Date.now() - 60000);
      this.refreshTimer = setTimeout(function () { self.fetchToken().catch(function (error) { self.fail(error); }); }, wait);
    } else if (this.tokenExpiresAt) {
      // A static token cannot be renewed here: say so when it lapses (the iframe page tells its parent).
      this.refreshTimer = setTimeout(function () { self.emit("token_expired", { code: "token_expired" }); },
        Math.max(0, this.tokenExpiresAt - Date.now()));
    }
    this.emit("token", { expiresAt: this.tokenExpiresAt });
  };

  /** fetch() against Parley with the token; on token_expired, one fresh token and one retry. */
  Widget.prototype.api = function (path, init, retried) {
    var self = this;
    init = init || {};
    var headers = Object.assign({ Authorization: "Bearer " + this.token }, init.headers || {});
    if (init.body) headers["Content-Type"] = "application/json";
    return fetch(ORIGIN + path, Object.assign({}, init, { headers: headers })).then(function (response) {
      if (response.ok) return response;
      return response.json().catch(function () { return {}; }).then(function (body) {
        var code = body && body.error && body.error.code;
        if (code === "token_expired" && !retried && self.options.tokenUrl) {
          return self.fetchToken().then(function () { return self.api(path, init, true); });
        }
        var error = new Error((body && body.error && body.error.message) || ("HTTP " + response.status));
        error.code = code || "http_" + response.status;
        error.status = response.status;
        throw error;
      });
    });
  };

  Widget.prototype.start = function () {
    var self = this;
    var tokenReady = this.token ? Promise.resolve(this.setToken(this.token)) : this.fetchToken();
    return tokenReady
      .then(function () { return self.api("/v1/session"); })
      .then(function (response) { return response.json(); })
      .then(function (session) {
        self.session = session;
        self.title.textContent = session.bot.name || self.t.title;
        var theme = session.bot.theme || {};
        if (!self.options.primaryColor && theme.primary_color) self.host.style.setProperty("--parley-primary", theme.primary_color);
        if (!self.options.position && theme.position) self.host.setAttribute("data-position", theme.position);
        return self.api("/v1/conversations?limit=1");
      })
      .then(function (response) { return response.json(); })
      .then(function (page) {
        if (page.data.length) return self.openConversation(page.data[0].id);
        self.showGreeting();
      })
      .then(function () {
        self.emit("ready", { user: self.session.user });
        if (self.options.openOnLoad) self.open();
      })
      .catch(function (error) { self.fail(error); });
  };

  Widget.prototype.fail = function (error) {
    var expired = error && (error.code === "token_expired" || error.message === "token_expired");
    this.notice.textContent = expired ? this.t.expired : this.t.error;
    this.notice.removeAttribute("hidden");
    this.emit(expired ? "token_expired" : "error", { code: (error && error.code) || "error", message: error && error.message });
  };

  // Conversations -------------------------------------------------------------------------------

  Widget.prototype.showGreeting = function () {
    this.list.replaceChildren();
    var greeting = this.session && this.session.bot.greeting;
    if (greeting) this.addMessage({ role: "assistant", content: greeting, status: "complete" });
  };

  Widget.prototype.startNew = function () {
    if (this.streaming) return;
    this.conversation = null;
    this.showHistory(false);
    this.showGreeting();
    this.input.focus();
  };

  Widget.prototype.openConversation = function (id) {
    var self = this;
    this.conversation = id;
    this.showHistory(false);
    return this.api("/v1/conversations/" + encodeURIComponent(id) + "/messages?limit=100")
      .then(function (response) { return response.json(); })
      .then(function (page) {
        self.list.replaceChildren();
        if (!page.data.length) self.showGreeting();
        page.data.forEach(function (message) { self.addMessage(message); });
        var last = page.data[page.data.length - 1];
        if (last && last.role === "assistant" && last.status === "streaming") self.follow(last.id, self.list.lastChild);
      });
  };

  Widget.prototype.toggleHistory = function () { this.showHistory(this.history.hasAttribute("hidden")); };

  Widget.prototype.showHistory = function (show) {
    var self = this;
    if (!show) {
      this.history.setAttribute("hidden", "");
      this.list.removeAttribute("hidden");
      this.form.removeAttribute("hidden");
      this.historyButton.textContent = this.t.history;
      return;
    }
    this.list.setAttribute("hidden", "");
    this.form.setAttribute("hidden", "");
    this.history.removeAttribute("hidden");
    this.historyButton.textContent = this.t.back;
    this.history.replaceChildren();
    this.api("/v1/conversations?limit=50").then(function (response) { return response.json(); }).then(function (page) {
      if (!page.data.length) self.history.appendChild(el("p", null, [self.t.empty]));
      page.data.forEach(function (conversation) {
        var item = el("button", { type: "button", role: "listitem" }, [conversation.title || self.t.untitled]);
        if (conversation.last_message_preview) item.appendChild(el("small", null, [conversation.last_message_preview]));
        item.addEventListener("click", function () { self.openConversation(conversation.id).then(function () { self.input.focus(); }); });
        self.history.appendChild(item);
      });
      var first = self.history.querySelector("button");
      if (first) first.focus();
    }).catch(function (error) { self.fail(error); });
  };

  // Messages ------------------------------------------------------------------------------------

  Widget.prototype.addMessage = function (message) {
    var bubble = el("div", { class: "message " + message.role, part: "message " + message.role, dir: "auto" });
    if (message.id) bubble.setAttribute("data-id", message.id);
    this.render(bubble, message);
    this.list.appendChild(bubble);
    this.list.scrollTop = this.list.scrollHeight;
    return bubble;
  };

  Widget.prototype.render = function (bubble, message) {
    bubble.replaceChildren();
    if (message.role === "user") bubble.textContent = message.content;
    else bubble.appendChild(renderMarkdown(message.content || "", this.t));
    bubble.classList.toggle("failed", message.status === "failed" || message.status === "interrupted");
    if (message.status === "cancelled") bubble.appendChild(el("span", { class: "status" }, [this.t.cancelled]));
    if (message.errorText) bubble.appendChild(el("span", { class: "status" }, [message.errorText]));
  };

  Widget.prototype.setBusy = function (busy) {
    this.sendButton.textContent = busy ? this.t.stop : this.t.send;
    this.sendButton.setAttribute("aria-label", busy ? this.t.stop : this.t.send);
    this.input.disabled = false;
  };

  Widget.prototype.submit = function () {
    var self = this;
    if (this.streaming) return;
    var text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.input.style.setProperty("height", "auto");
    var ensureConversation = this.conversation
      ? Promise.resolve(this.conversation)
      : this.api("/v1/conversations", { method: "POST", body: "{}" }).then(function (r) { return r.json(); }).then(function (c) {
        self.conversation = c.id;
        return c.id;
      });
    this.addMessage({ role: "user", content: text });
    var bubble = this.addMessage({ role: "assistant", content: "" });
    bubble.setAttribute("aria-busy", "true");
    var clientID = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    this.setBusy(true);
    ensureConversation
      .then(function (conversation) {
        return self.stream("/v1/conversations/" + encodeURIComponent(conversation) + "/messages",
          { method: "POST", body: JSON.stringify({ content: text, client_message_id: clientID }) }, bubble);
      })
      .catch(function (error) {
        self.render(bubble, { role: "assistant", content: "", status: "failed", errorText: error.message || self.t.error });
        self.emit("error", { code: error.code || "error", message: error.message });
      })
      .then(function () { self.finishStream(bubble); });
  };

  Widget.prototype.finishStream = function (bubble) {
    this.streaming = null;
    bubble.removeAttribute("aria-busy");
    this.setBusy(false);
  };

  /** Streams a reply into `bubble`; after a network drop, resumes with Last-Event-ID. */
  Widget.prototype.stream = function (path, init, bubble) {
    var self = this;
    var state = { messageID: null, lastID: null, text: "", done: false, frame: 0 };
    var controller = new AbortController();
    this.streaming = { abort: function () { controller.abort(); }, state: state };
    function paint() {
      state.frame = 0;
      self.render(bubble, { role: "assistant", content: state.text || "" });
      self.list.scrollTop = self.list.scrollHeight;
    }
    function onEvent(name, data, id) {
      state.lastID = id || state.lastID;
      if (name === "response.started") { state.messageID = data.message_id; bubble.setAttribute("data-id", data.message_id); }
      if (name === "user_message") state.messageID = state.messageID || (id && id.split(":")[0]);
      if (name === "response.delta") {
        state.text += data.delta;
        if (!state.frame) state.frame = requestAnimationFrame(paint);
      }
      if (name === "response.completed" || name === "response.error") {
        state.done = true;
        if (state.frame) cancelAnimationFrame(state.frame);
        var message = data.message || { content: state.text };
        var errorText = name === "response.error" ? ((data.error && data.error.message) || self.t.error) : null;
        self.render(bubble, { role: "assistant", content: message.content, status: message.status, errorText: errorText });
        self.emit("message", { message: message, error: data.error || null });
      }
    }
    function attempt(requestPath, requestInit, tries) {
      return self.api(requestPath, Object.assign({ signal: controller.signal }, requestInit))
        .then(function (response) { return readEvents(response, onEvent); })
        .catch(function (error) {
          if (controller.signal.aborted || error.status) throw error;
          return null; // network drop: resume below
        })
        .then(function () {
          if (state.done || controller.signal.aborted) return;
          if (!state.messageID || tries >= 5) throw new Error(self.t.error);
          var resume = "/v1/conversations/" + encodeURIComponent(self.conversation) + "/messages/" + state.messageID + "/events";
          var headers = state.lastID ? { "Last-Event-ID": state.lastID } : {};
          return new Promise(function (resolve) { setTimeout(resolve, 500 * (tries + 1)); })
            .then(function () { return attempt(resume, { headers: headers }, tries + 1); });
        });
    }
    return attempt(path, init, 0).catch(function (error) {
      if (controller.signal.aborted && state.done) return;
      throw error;
    });
  };

  /** Follows a reply that is still streaming (found when a conversation is opened). */
  Widget.prototype.follow = function (messageID, bubble) {
    var self = this;
    if (this.streaming) return;
    this.setBusy(true);
    bubble.setAttribute("aria-busy", "true");
    var path = "/v1/conversations/" + encodeURIComponent(this.conversation) + "/messages/" + encodeURIComponent(messageID) + "/events";
    this.stream(path, {}, bubble)
      .catch(function (error) { self.emit("error", { code: error.code || "error", message: error.message }); })
      .then(function () { self.finishStream(bubble); });
  };

  Widget.prototype.cancel = function () {
    var stream = this.streaming;
    if (!stream || !stream.state.messageID) return;
    this.api("/v1/conversations/" + encodeURIComponent(this.conversation) + "/messages/" + stream.state.messageID + "/cancel", { method: "POST" })
      .catch(function () {});
  };

  // ---------------------------------------------------------------------------------------------
  // Public API

  var current = null;

  function optionsFromScript(node) {
    if (!node) return {};
    var d = node.dataset;
    return {
      botId: d.botId, tokenUrl: d.tokenUrl, token: d.token, userId: d.userId, userEmail: d.userEmail, userName: d.userName,
      position: d.position, primaryColor: d.primaryColor, launcherIcon: d.launcherIcon, openOnLoad: d.openOnLoad === "true" || d.openOnLoad === "",
      locale: d.locale, theme: d.theme, mount: d.mount, mode: d.mode, zIndex: d.zIndex
    };
  }

  var Parley = {
    /** Starts the widget; replaces one already running. Returns the widget. */
    init: function (options) {
      if (current) current.destroy();
      current = new Widget(Object.assign({}, options || {}));
      return current;
    },
    destroy: function () { if (current) { current.destroy(); current = null; } },
    open: function () { if (current) current.open(); },
    close: function () { if (current) current.close(); },
    on: function (name, handler) { if (current) current.on(name, handler); return Parley; },
    /** Hands the widget a new token (the iframe page's PARLEY_EMBED_SET_TOKEN). */
    setToken: function (token) { if (current) current.setToken(token); },
    /** The safe Markdown renderer, shared with Parley's own pages. */
    renderMarkdown: function (text, locale) { return renderMarkdown(text, STRINGS[pickLocale(locale)]); },
    get widget() { return current; }
  };

  window.Parley = Parley;
  var fromScript = optionsFromScript(script);
  if (fromScript.token || fromScript.tokenUrl) {
    var boot = function () { Parley.init(fromScript); };
    if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
  }
})();
