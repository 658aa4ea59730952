/**
 * An OpenFeature provider for `@openfeature/web-sdk`, built on
 * {@link HalyardBrowserClient} (client mode: OFREP bulk evaluation with a
 * client key). OpenFeature's context changes re-evaluate through
 * `setContext`.
 *
 * ```ts
 * import { OpenFeature } from "@openfeature/web-sdk";
 * import { HalyardWebProvider } from "@halyard/sdk/openfeature/web";
 *
 * await OpenFeature.setProviderAndWait(new HalyardWebProvider({ baseUrl, clientKey }), { targetingKey: "bob" });
 * const enabled = OpenFeature.getClient().getBooleanValue("new-checkout", false);
 * ```
 */

import {
  type EvaluationContext,
  type JsonValue,
  type Logger,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
} from "@openfeature/web-sdk";

import { HalyardBrowserClient, type HalyardBrowserClientOptions } from "../browser.js";
import type { JsonValue as HalyardJson } from "../model.js";
import { toHalyardContext, toResolution } from "./resolution.js";

/** A Halyard provider for OpenFeature's web SDK. */
export class HalyardWebProvider implements Provider {
  readonly metadata = { name: "halyard-web" } as const;
  readonly runsOn = "client" as const;
  readonly events = new OpenFeatureEventEmitter();
  /** The client it evaluates with. */
  readonly client: HalyardBrowserClient;
  readonly #unsubscribe: (() => void)[] = [];
  #initializeFailed = false;
  /** Changes while a context change is applied are the SDK's to report (it emits its own events). */
  #reconciling = 0;

  /** Wraps a client (not yet started), or creates one from options. */
  constructor(clientOrOptions: HalyardBrowserClient | HalyardBrowserClientOptions) {
    this.client =
      clientOrOptions instanceof HalyardBrowserClient ? clientOrOptions : new HalyardBrowserClient(clientOrOptions);
    const live = () => this.client.initialized;
    this.#unsubscribe.push(
      this.client.on("change", ({ keys }) => {
        if (this.#reconciling === 0) {
          this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [...keys] });
        }
      }),
      this.client.on("error", (error) => {
        if (live() && this.#reconciling === 0) {
          this.events.emit(ProviderEvents.Error, { message: error.message });
        }
      }),
      this.client.on("stale", ({ error }) => {
        this.events.emit(ProviderEvents.Stale, error === undefined ? {} : { message: error.message });
      }),
      this.client.on("recovered", () => {
        this.events.emit(ProviderEvents.Ready);
      }),
      // A client that gets its configuration after initialize() gave up
      // (the SDK then reports an error state) makes the provider ready.
      this.client.on("ready", () => {
        if (this.#initializeFailed) {
          this.#initializeFailed = false;
          this.events.emit(ProviderEvents.Ready);
        }
      }),
    );
  }

  /** Sets the global context and starts the client; resolves when the first evaluation is held. */
  async initialize(context?: EvaluationContext): Promise<void> {
    if (context !== undefined) {
      // Before init() this only records the context.
      await this.client.setContext(toHalyardContext(context));
    }
    try {
      await this.client.init();
    } catch (error) {
      this.#initializeFailed = true;
      throw error;
    }
  }

  /** Re-evaluates every flag for the new context. */
  async onContextChange(_oldContext: EvaluationContext, newContext: EvaluationContext): Promise<void> {
    this.#reconciling++;
    try {
      await this.client.setContext(toHalyardContext(newContext));
    } finally {
      this.#reconciling--;
    }
  }

  /** Closes the client. */
  async onClose(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) {
      off();
    }
    this.client.close();
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    _context?: EvaluationContext,
    _logger?: Logger,
  ): ResolutionDetails<boolean> {
    return toResolution(this.client.boolVariationDetail(flagKey, defaultValue));
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    _context?: EvaluationContext,
    _logger?: Logger,
  ): ResolutionDetails<string> {
    return toResolution(this.client.stringVariationDetail(flagKey, defaultValue));
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    _context?: EvaluationContext,
    _logger?: Logger,
  ): ResolutionDetails<number> {
    return toResolution(this.client.numberVariationDetail(flagKey, defaultValue));
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    _context?: EvaluationContext,
    _logger?: Logger,
  ): ResolutionDetails<T> {
    return toResolution(this.client.jsonVariationDetail(flagKey, defaultValue as HalyardJson)) as ResolutionDetails<T>;
  }
}
