// Orbit console and portal: small progressive enhancements. Every page works without this file;
// it adds copy buttons, the overview chart, the portal link exchange and the signed-in check.
// Served as a file (CSP script-src 'self': no inline script, no eval).
(function () {
  'use strict';

  function announce(text) {
    var region = document.getElementById('announcer');
    if (!region) return;
    region.textContent = '';
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  // ---- copy buttons: <button data-copy="element-id" hidden> ----------------------------------
  function setUpCopy(root) {
    var buttons = root.querySelectorAll('button[data-copy]');
    Array.prototype.forEach.call(buttons, function (button) {
      if (!navigator.clipboard || button.dataset.ready) return;
      button.dataset.ready = '1';
      button.hidden = false;
      button.addEventListener('click', function () {
        var target = document.getElementById(button.dataset.copy);
        if (!target) return;
        navigator.clipboard.writeText(target.textContent || '').then(
          function () {
            var label = button.textContent;
            button.textContent = 'Copied';
            announce('Copied to the clipboard');
            window.setTimeout(function () {
              button.textContent = label;
            }, 1500);
          },
          function () {
            announce('Copying failed: select the text and copy it by hand');
          },
        );
      });
    });
  }

  // ---- the overview chart: <div id="chart" data-series="{...}"> ------------------------------
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function drawChart() {
    var box = document.getElementById('chart');
    if (!box || typeof window.uPlot !== 'function') return;
    var series = JSON.parse(box.dataset.series || '{}');
    var chart = null;
    function render() {
      if (chart) chart.destroy();
      box.textContent = '';
      var axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid'), width: 1 } };
      chart = new window.uPlot(
        {
          width: Math.max(280, box.clientWidth),
          height: 260,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          // Times in UTC, as everywhere else in the console.
          tzDate: function (seconds) {
            return window.uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC');
          },
          axes: [Object.assign({}, axis, { space: 70 }), Object.assign({}, axis, { size: 60 })],
          series: [
            {},
            { label: 'Delivered', stroke: cssVar('--chart-ok'), width: 2, fill: cssVar('--chart-ok') + '33', points: { show: false } },
            { label: 'Failed', stroke: cssVar('--chart-bad'), width: 2, fill: cssVar('--chart-bad') + '33', points: { show: false } },
          ],
        },
        [series.at, series.ok, series.bad],
        box,
      );
    }
    render();
    var width = box.clientWidth;
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (Math.abs(box.clientWidth - width) > 4) {
          width = box.clientWidth;
          chart.setSize({ width: Math.max(280, width), height: 260 });
        }
      }).observe(box);
    }
    if (window.matchMedia) window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', render);
  }

  // ---- signed-in check: a link opened from chat arrives without the SameSite=Strict cookie; a
  // request from this page carries it, so an operator who is signed in goes straight on. --------
  function probeSession() {
    var probe = document.querySelector('[data-session-probe]');
    if (!probe) return;
    fetch(probe.dataset.sessionProbe, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        if (answer && answer.signedIn) window.location.replace(probe.dataset.next || '/');
      })
      .catch(function () {});
  }

  // ---- the portal link: /portal#token=… is exchanged (POST, never a URL) for a session ---------
  function enterPortal() {
    var entry = document.querySelector('[data-portal-entry]');
    if (!entry) return;
    var match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(window.location.hash);
    // The token must not stay in the address bar or the history.
    if (window.location.hash) history.replaceState(null, '', window.location.pathname);
    var status = document.getElementById('portal-status');
    if (!match) {
      probeSession();
      return;
    }
    status.textContent = 'Opening the portal…';
    fetch('/portal/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ token: match[1] }),
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        if (answer && answer.next) window.location.replace(answer.next);
        else status.textContent = (answer && answer.message) || 'This link cannot be opened.';
      })
      .catch(function () {
        status.textContent = 'The portal could not be reached. Check your connection and open the link again.';
      });
  }

  // A flash message rendered with the page is not announced by every screen reader: set it again.
  function announceFlash() {
    var flash = document.getElementById('flash');
    if (!flash || !flash.firstElementChild) return;
    var message = flash.firstElementChild;
    flash.removeChild(message);
    window.setTimeout(function () {
      flash.appendChild(message);
    }, 100);
  }

  function start() {
    announceFlash();
    setUpCopy(document);
    drawChart();
    enterPortal();
    if (!document.querySelector('[data-portal-entry]')) probeSession();
    document.body.addEventListener('htmx:afterSwap', function (event) {
      setUpCopy(event.target);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
