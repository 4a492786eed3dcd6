// Checks an execution's input is JSON before the form is sent (the server checks again).
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
    input.setCustomValidity(problem);
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
