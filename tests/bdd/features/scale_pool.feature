Feature: Scale a pool
  An operator takes a pool out of service without cutting answers in flight,
  and moves a pool to a new model without mixing models in one answer.

  Background:
    Given OrchQueue is running with pools "pool-a" and "pool-b" serving the same model

  Scenario: Drain a pool while it serves
    Given a long answer is streaming from pool "pool-a"
    When the operator drains pool "pool-a"
    Then pool "pool-a" is listed as draining
    And new tasks are served by pool "pool-b"
    And the long answer finishes completely

  Scenario: Reload a pool with a new model
    When the operator reloads pool "pool-b" with the new model
    Then the reload reports the new model's digest
    And a task for the new model starts on that digest
