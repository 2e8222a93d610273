import type { NotifyOptions } from './wechat-sandbox-notifier.service';
import type { NotificationEvent, SandboxNotification, SandboxTrade } from './wechat-sandbox.types';

/**
 * What the trade book needs from a notifier: v3 (signed JSON, encrypted
 * resource) and v2 (signed XML, encrypted req_info) deliver the same events in
 * their own wire format, so the book, the control API and the cashier page
 * serve both versions.
 */
export abstract class WechatSandboxNotifications {
  abstract notify(
    trade: SandboxTrade,
    event: NotificationEvent,
    options?: NotifyOptions,
  ): SandboxNotification | null;
  abstract resume(n: SandboxNotification, trade: SandboxTrade): void;
}
