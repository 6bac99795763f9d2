// On a narrow screen the KPI tree is an outline (KGI → KSF → KPI, see
// kpitree.css): a button before every node with nodes below it folds them.
// The buttons are shown on narrow screens only; live updates replace the page
// content, so they are added again after every swap.
(function () {
  "use strict";

  function setup(root) {
    root.querySelectorAll(".kt-tree").forEach(function (tree) {
      var label = tree.getAttribute("data-fold-label") || "";
      tree.querySelectorAll("li.kt-branch").forEach(function (item) {
        var below = item.querySelector(":scope > ul");
        if (!below || item.querySelector(":scope > .kt-outline-toggle")) {
          return;
        }
        var button = document.createElement("button");
        button.type = "button";
        button.className = "kt-outline-toggle";
        button.setAttribute("aria-expanded", "true");
        button.setAttribute("aria-label", label);
        button.setAttribute("title", label);
        button.setAttribute("data-testid", "outline-toggle");
        button.textContent = "▾";
        button.addEventListener("click", function () {
          var folded = item.classList.toggle("kt-folded");
          button.setAttribute("aria-expanded", folded ? "false" : "true");
          button.textContent = folded ? "▸" : "▾";
        });
        item.insertBefore(button, item.firstChild);
      });
    });
  }

  setup(document);
  document.body.addEventListener("htmx:afterSettle", function () { setup(document); });
})();
