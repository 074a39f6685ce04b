// 报告详情's official tables: static HTML (built and escaped in Python, pipeline/dashboard/html_table.py) whose
// cells carry their registry key (data-key); a click on such a cell sends the key back to Python (the "cell"
// trigger), which shows where the cell came from.  The clicked cell is marked at once, before the rerun.
export default function ({ parentElement, data, setTriggerValue }) {
  let box = parentElement.querySelector('[data-testid="xxgkCellTable"]');
  if (!box) {
    box = document.createElement("div");
    box.dataset.testid = "xxgkCellTable";
    parentElement.appendChild(box);
  }
  if (box.xxgkHtml !== data.html) {
    box.innerHTML = data.html; // escaped in Python; a component's DOM is the app's own (no iframe)
    box.xxgkHtml = data.html; // redrawn only when the table (or the marked cell) changed
  }
  const onClick = (event) => {
    const cell = event.target.closest("td[data-key]");
    if (!cell || !box.contains(cell)) return;
    for (const old of box.querySelectorAll("td.picked")) old.classList.remove("picked");
    cell.classList.add("picked");
    setTriggerValue("cell", cell.dataset.key);
  };
  box.addEventListener("click", onClick);
  return () => box.removeEventListener("click", onClick);
}
