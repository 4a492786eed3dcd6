// Checks a JSON field (a callback's output) before the form is sent; the server checks again with the
// strict reader. The message is shown under the field, not as the browser's own validity bubble.
for (const form of document.querySelectorAll("form[data-json-form]")) {
  const input = form.querySelector("[data-json-input]");
  const message = form.querySelector("[data-json-error]");
  const check = () => {
    let problem = "";
    try {
      JSON.parse(input.value.trim() || "{}");
    } catch (error) {
      problem = `The input is not valid JSON: ${error.message}`;
    }
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    message.textContent = problem;
    message.hidden = !problem;
    return !problem;
  };
  input.addEventListener("input", check);
  form.addEventListener("submit", (event) => {
    if (!check()) {
      event.preventDefault();
      input.focus();
    }
  });
}
