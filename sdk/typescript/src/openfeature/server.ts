/**
 * An OpenFeature provider for `@openfeature/server-sdk`, built on
 * {@link HalyardClient} (server mode: local evaluation, live sync over SSE).
 *
 * ```ts
 * import { OpenFeature } from "@openfeature/server-sdk";
 * import { HalyardProvider } from "@halyard/sdk/openfeature/server";
 *
 * await OpenFeature.setProviderAndWait(new HalyardProvider({ baseUrl, sdkKey }));
 * const enabled = await OpenFeature.getClient().getBooleanValue("new-checkout", false, { targetingKey: "bob" });
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
} from "@openfeature/server-sdk";

import { HalyardClient, type HalyardClientOptions } from "../client.js";
import type { JsonValue as HalyardJson } from "../model.js";
import { toHalyardContext, toResolution } from "./resolution.js";

/** A Halyard provider for OpenFeature's server SDK. */
export class HalyardProvider implements Provider {
  readonly metadata = { name: "halyard" } as const;
  readonly runsOn = "server" as const;
  readonly events = new OpenFeatureEventEmitter();
  /** The client it evaluates with. */
  readonly client: HalyardClient;
  readonly #unsubscribe: (() => void)[] = [];
  #initializeFailed = false;

  /** Wraps a client (not yet started, or started), or creates one from options. */
  constructor(clientOrOptions: HalyardClient | HalyardClientOptions) {
    this.client = clientOrOptions instanceof HalyardClient ? clientOrOptions : new HalyardClient(clientOrOptions);
    // Before initialize() resolves, the SDK reports readiness and failure itself.
    const live = () => this.client.initialized;
    this.#unsubscribe.push(
      this.client.on("change", ({ keys }) => {
        this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [...keys] });
      }),
      this.client.on("error", (error) => {
        if (live()) {
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

  /** Starts the client; resolves when it holds a configuration, rejects on a refused key or timeout. */
  async initialize(_context?: EvaluationContext): Promise<void> {
    try {
      await this.client.init();
    } catch (error) {
      this.#initializeFailed = true;
      throw error;
    }
  }

  /** Closes the client. */
  async onClose(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) {
      off();
    }
    this.client.close();
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<boolean>> {
    return toResolution(this.client.boolVariationDetail(flagKey, toHalyardContext(context), defaultValue));
  }

  async resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<string>> {
    return toResolution(this.client.stringVariationDetail(flagKey, toHalyardContext(context), defaultValue));
  }

  async resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<number>> {
    return toResolution(this.client.numberVariationDetail(flagKey, toHalyardContext(context), defaultValue));
  }

  async resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
    _logger?: Logger,
  ): Promise<ResolutionDetails<T>> {
    const detail = this.client.jsonVariationDetail(flagKey, toHalyardContext(context), defaultValue as HalyardJson);
    return toResolution(detail) as ResolutionDetails<T>;
  }
}
