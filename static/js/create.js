// Storyboard editor: add, remove and reorder shots of a Django formset without a page reload.
(function () {
  "use strict";
  const toggle = document.getElementById("id_use_storyboard");
  const board = document.getElementById("storyboard");
  const list = document.getElementById("shots");
  const template = document.getElementById("shot-template");
  const total = document.getElementById("id_shots-TOTAL_FORMS");
  if (!toggle || !list) return;

  function renumber() {
    let order = 1;
    list.querySelectorAll("li.shot").forEach((li) => {
      const del = li.querySelector("input[name$='-DELETE']");
      const ord = li.querySelector("input[name$='-ORDER']");
      if (del && del.checked) { li.classList.add("hidden"); return; }
      if (ord) ord.value = order++;
    });
  }

  function addShot() {
    const index = parseInt(total.value, 10);
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    list.insertAdjacentHTML("beforeend", html);
    total.value = index + 1;
    renumber();
  }

  toggle.addEventListener("change", () => {
    board.classList.toggle("hidden", !toggle.checked);
    // A storyboard has its own prompts and lengths: the single prompt and duration don't apply.
    document.getElementById("prompt-field").classList.toggle("hidden", toggle.checked);
    document.getElementById("seconds-field").classList.toggle("hidden", toggle.checked);
    if (toggle.checked && list.querySelectorAll("li.shot").length === 0) { addShot(); addShot(); }
  });
  document.getElementById("add-shot").addEventListener("click", addShot);
  list.addEventListener("click", (e) => {
    const li = e.target.closest("li.shot");
    if (!li) return;
    const button = e.target.closest("button");
    if (!button) return;
    if (button.matches("[data-remove]")) {
      li.querySelector("input[name$='-DELETE']").checked = true;
    } else if (button.matches("[data-move]")) {
      const up = button.dataset.move === "-1";
      const sibling = up ? li.previousElementSibling : li.nextElementSibling;
      if (sibling) up ? list.insertBefore(li, sibling) : list.insertBefore(sibling, li);
    } else {
      return;
    }
    renumber();
  });
  renumber();
})();
