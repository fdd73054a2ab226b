import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { AIMessage, BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';

/**
 * A chat model that answers from a script, one message per call, and records what it was sent.
 * (@langchain/core's fakes repeat their first response, so they cannot take a second turn.)
 */
export class ScriptedChatModel extends BaseChatModel {
  readonly seen: BaseMessage[][] = [];
  readonly #script: AIMessage[];
  constructor(script: AIMessage[]) {
    super({});
    this.#script = script;
  }
  _llmType(): string {
    return 'scripted';
  }
  // biome-ignore lint/suspicious/noExplicitAny: the tools are only announced to a real model
  override bindTools(_tools: any[]): any {
    return this;
  }
  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.seen.push(messages);
    const message = this.#script[this.seen.length - 1];
    if (!message) throw new Error('the script has no more turns');
    return { generations: [{ message, text: typeof message.content === 'string' ? message.content : '' }] };
  }
}
