Feature: Submit a task, stream its answer, cancel it
  A client sends a prompt to OrchQueue, follows the answer token by token,
  and can stop an answer it no longer needs.

  Background:
    Given OrchQueue is running with a ready pool

  Scenario: Stream a short answer
    When I submit the prompt "Tell me about fair queues" for 8 tokens
    Then the task is accepted with a link to its stream
    And the stream shows the start, 8 tokens and the end
    And the task status says "succeeded"

  Scenario: Cancel an answer while it streams
    When I submit the prompt "Write a very long story" for 400 tokens
    And I cancel the task once 3 tokens have arrived
    Then the stream ends as canceled before the answer is complete
    And the task status says "canceled"
