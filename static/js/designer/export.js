// Export the draft: the ASL as JSON or YAML and the graph as SVG come from the server (a form POST
// of the draft's text answers with a download); PNG is drawn here, from the server's SVG, on a canvas.

import { csrfToken } from "../app.js";

const PNG_SCALE = 2; // crisp on high-density screens and in documents

function exportForm(url, text) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = url;
  form.hidden = true;
  for (const [name, value] of [["csrfmiddlewaretoken", csrfToken()], ["definition", text]]) {
    const field = document.createElement("textarea");
    field.name = name;
    field.value = value;
    form.append(field);
  }
  return form;
}

function download(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** The SVG text drawn on a white canvas, as a PNG blob. */
export async function svgToPng(svgText) {
  const bytes = new TextEncoder().encode(svgText);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  const image = new Image();
  image.src = `data:image/svg+xml;base64,${btoa(binary)}`; // the page's CSP allows data: images
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(image.naturalWidth * PNG_SCALE);
  canvas.height = Math.ceil(image.naturalHeight * PNG_SCALE);
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no PNG"))), "image/png"));
}

export function exportButtons(host, { definitionText }) {
  if (!host) return;
  const urlFor = (kind) => host.dataset.exportUrl.replace("__kind__", kind);
  const status = host.querySelector("[data-export-status]");
  for (const button of host.querySelectorAll("[data-export-kind]")) {
    button.addEventListener("click", async () => {
      const kind = button.dataset.exportKind;
      status.textContent = "";
      if (kind !== "png") {
        const form = exportForm(urlFor(kind), definitionText());
        document.body.append(form);
        form.submit();
        form.remove();
        return;
      }
      try {
        const body = new FormData();
        body.append("definition", definitionText());
        const response = await fetch(urlFor("svg"), { method: "POST", body, credentials: "same-origin",
                                                      headers: { "X-CSRFToken": csrfToken() } });
        if (!response.ok) throw new Error(await response.text());
        const png = await svgToPng(await response.text());
        download(png, `${host.dataset.machine}-draft.png`);
        status.textContent = "PNG ready.";
      } catch (error) {
        status.textContent = `The PNG could not be made: ${error.message}`;
      }
    });
  }
}
