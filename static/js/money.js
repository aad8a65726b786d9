// ¥ for people, the same rule as prompts/usage/money.py: under ¥1 up to 4 decimals
// (0.0053, 0.05), from ¥1 two decimals with thousands grouped (1,234.50), half up.
(function () {
  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function formatYuan(value) {
    // Ledger amounts have 6 decimals: whole micro-yuan make the rounding exact.
    const micros = Math.round(Math.abs(Number(value)) * 1e6);
    const sign = Number(value) < 0 ? "-" : "";
    if (micros === 0) return "0.00";
    const tenThousandths = Math.floor((micros + 50) / 100);
    if (tenThousandths === 0) return sign + "<0.0001";
    if (tenThousandths < 10000) {
      let fraction = String(tenThousandths).padStart(4, "0").replace(/0+$/, "");
      return sign + "0." + fraction.padEnd(2, "0");
    }
    const cents = Math.floor((micros + 5000) / 10000);
    return sign + group(String(Math.floor(cents / 100))) + "." + String(cents % 100).padStart(2, "0");
  }

  window.GrokWeb = Object.assign(window.GrokWeb || {}, { formatYuan });
})();
