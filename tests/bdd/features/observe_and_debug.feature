Feature: Observe and debug
  An operator follows a task through the metrics and the logs,
  and finds it by the correlation id the client sent.

  Background:
    Given OrchQueue is running with a ready pool

  Scenario: Follow a task through metrics and logs
    Given I note the output token counter
    When I submit the prompt "A secret prompt about owls" for 5 tokens with correlation id "journey-observe-1"
    And I read the whole stream
    Then the output token counter rose by 5
    And the logs show the task admitted, started and ended under correlation id "journey-observe-1"
    And no log line contains the prompt
