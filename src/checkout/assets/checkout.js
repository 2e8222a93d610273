/*
 * paygate's hosted checkout page: channel tabs, the time left, the order's live
 * status (polled every 1.5 s), WeChat's JSAPI bridge, and the way back to the shop.
 * Plain browser JavaScript, served by paygate itself under a strict CSP: it builds
 * no HTML from data, only shows and hides what the server rendered.
 */
(function () {
  'use strict';

  var POLL_MS = 1500;
  var RETURN_DELAY_MS = 1500;
  var root = document.getElementById('checkout');
  if (!root) return;

  var clientSecret = new URLSearchParams(window.location.search).get('cs') || '';
  var statusUrl = root.getAttribute('data-status-url');
  var state = root.getAttribute('data-state');
  var timer = null;
  var failures = 0;

  // ---- channel tabs (desktop) -------------------------------------------------
  var tablist = root.querySelector('[role="tablist"]');
  if (tablist) {
    var tabs = Array.prototype.slice.call(tablist.querySelectorAll('[role="tab"]'));
    var select = function (tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute('aria-selected', on ? 'true' : 'false');
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
      });
      if (focus) tab.focus();
    };
    tabs.forEach(function (tab, i) {
      var panel = document.getElementById(tab.getAttribute('aria-controls'));
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', tab.id);
      panel.tabIndex = 0;
      tab.addEventListener('click', function () {
        select(tab, false);
      });
      tab.addEventListener('keydown', function (event) {
        var next = null;
        if (event.key === 'ArrowRight' || event.key === 'ArrowDown') next = (i + 1) % tabs.length;
        if (event.key === 'ArrowLeft' || event.key === 'ArrowUp')
          next = (i - 1 + tabs.length) % tabs.length;
        if (event.key === 'Home') next = 0;
        if (event.key === 'End') next = tabs.length - 1;
        if (next === null) return;
        event.preventDefault();
        select(tabs[next], true);
      });
    });
    root.classList.add('tabs-ready');
    tablist.hidden = false;
    select(tabs[0], false);
  }

  // ---- time left ----------------------------------------------------------------
  var countdown = document.getElementById('countdown');
  if (countdown && state === 'pending') {
    var deadline = Date.now() + Number(countdown.getAttribute('data-seconds')) * 1000;
    var pad = function (n) {
      return (n < 10 ? '0' : '') + n;
    };
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var h = Math.floor(left / 3600);
      var m = Math.floor((left % 3600) / 60);
      countdown.textContent = (h > 0 ? h + ':' + pad(m) : String(m)) + ':' + pad(left % 60);
      if (left === 0) {
        poll();
        return;
      }
      if (state === 'pending') setTimeout(tick, 1000);
    };
    tick();
  }

  // ---- the order's status -------------------------------------------------------
  function show(next) {
    if (next === state) return;
    state = next;
    root.setAttribute('data-state', next);
    clearTimeout(timer);
    document.getElementById('pay').hidden = true;
    var section = document.getElementById('state-' + next);
    if (!section) return;
    section.hidden = false;
    var heading = section.querySelector('h2');
    document.getElementById('announce').textContent = heading ? heading.textContent : '';
    section.focus();
    if (next === 'paid') goBackToShop();
  }

  function schedule(ms) {
    clearTimeout(timer);
    if (state === 'pending') timer = setTimeout(poll, ms);
  }

  function poll() {
    if (state !== 'pending' || !statusUrl) return;
    clearTimeout(timer);
    fetch(statusUrl, {
      headers: { Accept: 'application/json', 'X-Client-Secret': clientSecret },
      cache: 'no-store',
      credentials: 'omit',
    })
      .then(function (res) {
        if (res.status === 429) {
          var wait = Number(res.headers.get('Retry-After'));
          schedule((wait > 0 ? wait : 5) * 1000);
          return null;
        }
        if (!res.ok) throw new Error('status ' + res.status);
        return res.json();
      })
      .then(function (body) {
        if (!body) return;
        failures = 0;
        if (body.status === 'pending') schedule(POLL_MS);
        else show(body.status);
      })
      .catch(function () {
        // Offline for a moment, or paygate restarting: keep asking, less often.
        failures += 1;
        schedule(Math.min(POLL_MS * Math.pow(2, failures), 15000));
      });
  }

  // ---- back to the shop ------------------------------------------------------------
  function goBackToShop() {
    var link = document.getElementById('return-link');
    if (!link) return;
    var url;
    try {
      url = new URL(link.getAttribute('href'), window.location.href);
    } catch {
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return;
    setTimeout(function () {
      window.location.assign(url.href);
    }, RETURN_DELAY_MS);
  }

  // ---- WeChat JSAPI ------------------------------------------------------------------
  var jsapi = document.getElementById('pay-wechat-jsapi');
  if (jsapi) {
    var note = document.getElementById('jsapi-note');
    jsapi.addEventListener('click', function () {
      var params = JSON.parse(jsapi.getAttribute('data-params'));
      note.textContent = '';
      var invoke = function () {
        window.WeixinJSBridge.invoke('getBrandWCPayRequest', params, function (res) {
          var message = res && res.err_msg;
          if (message === 'get_brand_wcpay_request:ok') poll();
          else if (message === 'get_brand_wcpay_request:cancel')
            note.textContent = jsapi.getAttribute('data-cancelled');
          else note.textContent = jsapi.getAttribute('data-failed');
        });
      };
      if (window.WeixinJSBridge && window.WeixinJSBridge.invoke) invoke();
      else document.addEventListener('WeixinJSBridgeReady', invoke, { once: true });
    });
  }

  // Back from a channel's page, or from another tab: ask at once.
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) poll();
  });
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) poll();
  });

  if (state === 'paid') goBackToShop();
  else schedule(POLL_MS);
})();
